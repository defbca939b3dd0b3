package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// TestReadOnly_noBindingOfAnyScreenReachesTheApplier walks every screen's key map in read-only mode
// and presses every key of every binding — enabled or not — plus the picker's digits, running every
// command that comes back. The Applier is a real one in read-only mode behind a spy; the plans count
// their own calls. Nothing may reach either. The confirmation dialog and the picker cannot be opened
// in read-only mode, so the walk forces them open to prove that even they cannot apply.
func TestReadOnly_noBindingOfAnyScreenReachesTheApplier(t *testing.T) {
	cfg, tc, spy := testConfig(t, true)
	tc.plans = func() []*fixes.Plan {
		a := tc.w.plan(tc.id)
		b := tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Destructive, p.VPCWide, p.Affects = "delete-zone", "Delete the forwarding zone", true, true, "the whole VPC"
		})
		return []*fixes.Plan{a, b}
	}
	// A journal entry that an enabled undo would revert.
	j := cfg.journal.(*fixes.Journal)
	if err := j.Write(&fixes.Entry{ID: "20260314T092653Z-000001", Check: "clusterip-unreachable", Title: "earlier fix", State: fixes.StateApplied,
		Target: cfg.target, Undo: []fixes.UndoAction{fixes.NewUndo("tui-test-remove-ilb", map[string]int32{"World": tc.id})}}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	failing := *h.row("clusterip-unreachable").result
	if failing.Status != checks.Fail || len(failing.Fixes) != 2 {
		t.Fatalf("clusterip-unreachable: %s with %d fixes", failing.Status, len(failing.Fixes))
	}

	for _, k := range []string{"fix", "undo"} {
		b := h.m.bindingByName(k)
		if b.Enabled() || h.m.keys.reasons[k] != "read-only" {
			t.Errorf("%s binding: enabled %v reason %q; want disabled with the reason read-only", k, b.Enabled(), h.m.keys.reasons[k])
		}
	}

	enter := map[screen]func(){
		screenList:   func() { h.m.screen = screenList },
		screenDetail: func() { h.m.screen = screenDetail },
		screenHelp:   func() { h.m.screen = screenList; h.m.openHelp() },
		screenFilter: func() { h.m.screen = screenList; h.exec(h.m.openFilter()) },
		screenConfirm: func() {
			h.m.prevScreen = screenList
			h.m.confirm = &confirmState{check: "clusterip-unreachable", plans: h.row("clusterip-unreachable").result.Fixes}
			h.m.screen = screenConfirm
		},
		screenPick: func() {
			all, rec, _ := applicable(h.row("clusterip-unreachable").result)
			h.m.prevScreen = screenList
			h.m.pick = &pickState{check: "clusterip-unreachable", plans: all, recommended: rec}
			h.m.screen = screenPick
		},
		screenGuided: func() { h.m.screen = screenList; h.m.enterGuided(false) },
		screenTriage: func() {
			h.m.screen = screenList
			h.exec(h.m.openTriage())
			h.send(tea.PasteMsg{Content: triagePaste}) // enter has something to run
		},
	}
	pressed := 0
	for _, sc := range allScreens {
		open, ok := enter[sc]
		if !ok {
			t.Fatalf("the walk does not know how to open the %s screen", sc)
		}
		var keys []string
		for _, b := range h.m.keys.screenBindings(sc) {
			keys = append(keys, b.Keys()...)
		}
		if sc == screenPick {
			keys = append(keys, "1", "2", "3", "9")
		}
		for _, k := range keys {
			if k == "q" || k == "ctrl+c" {
				continue // quitting ends the walk; it cannot write either
			}
			// Every press starts from a failing check with two plans selected, nothing running.
			h.waitFor("checks", func() bool { return !h.m.busy() })
			r := h.row("clusterip-unreachable")
			res := failing
			r.result, r.state = &res, stateDone
			h.m.selected = "clusterip-unreachable"
			open()
			if sc != h.m.screen {
				t.Fatalf("could not open the %s screen (at %s)", sc, h.m.screen)
			}
			h.key(k)
			pressed++
			h.drain(5 * time.Millisecond)
			if n, u := spy.applies.Load(), spy.undos.Load(); n != 0 || u != 0 {
				t.Fatalf("%s screen, key %q: the Applier was called (%d applies, %d undos)", sc, k, n, u)
			}
			if tc.w.snapshots.Load()+tc.w.applies.Load()+tc.w.waits.Load()+tc.w.undos.Load() != 0 {
				t.Fatalf("%s screen, key %q: a plan function ran", sc, k)
			}
			if h.m.fix != nil || h.m.undoing {
				t.Fatalf("%s screen, key %q: a fix or undo started", sc, k)
			}
			if strings.Contains(h.status(), "applying") {
				t.Fatalf("%s screen, key %q: status %q", sc, k, h.status())
			}
		}
		// Whatever the screen, f and u explain themselves instead of doing nothing silently.
		if sc == screenList || sc == screenDetail || sc == screenGuided {
			open()
			h.key("f")
			if !strings.Contains(h.status(), "disabled: read-only") {
				t.Errorf("%s screen: f says %q", sc, h.status())
			}
		}
	}
	h.drain(50 * time.Millisecond)
	if pressed < 60 {
		t.Errorf("the walk pressed only %d keys", pressed)
	}
	if tc.w.hasILB() || tc.w.undos.Load() != 0 {
		t.Error("the world changed in read-only mode")
	}
	entries, err := j.List()
	if err != nil || len(entries) != 1 || entries[0].State != fixes.StateApplied {
		t.Errorf("the journal changed in read-only mode: %v %v", entries, err)
	}
}

func TestKeys_defaultsHaveNoConflicts(t *testing.T) {
	if err := defaultKeyMap().checkConflicts(); err != nil {
		t.Fatal(err)
	}
}

func TestKeys_fileRemapsActions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(path, []byte("fix: [F, ctrl+f]\nquit: [Q]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := loadKeyMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(k.Fix.Keys(), ","); got != "F,ctrl+f" {
		t.Errorf("fix keys %q", got)
	}
	if k.Fix.Help().Key != "F/ctrl+f" || k.Fix.Help().Desc != "fix" {
		t.Errorf("fix help %+v", k.Fix.Help())
	}
	cfg, _, spy := testConfig(t, false)
	cfg.keys = k
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("f")
	h.drain(20 * time.Millisecond)
	if spy.applies.Load() != 0 {
		t.Error("f still applies after being remapped to F")
	}
	h.key("F")
	h.waitFor("the fix", func() bool { return spy.applies.Load() == 1 && h.m.fix == nil })
	if !strings.Contains(h.screen(), "F/ctrl+f fix") {
		t.Errorf("the help does not show the remapped key:\n%s", h.screen())
	}
}

func TestKeys_fileErrors(t *testing.T) {
	for name, tt := range map[string]struct{ doc, want string }{
		"unknown action": {"fixx: [F]\n", `unknown action "fixx"; valid actions:`},
		"empty list":     {"fix: []\n", `action "fix" has no keys`},
		"not a list":     {"fix: F\n", "expected a map of action to a list of keys"},
		"conflict":       {"fix: [r]\n", `key "r" is bound to both`},
		"empty key":      {"fix: [\"\"]\n", `action "fix" has an empty key`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.yaml")
			if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadKeyMap(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want it to name %s and say %q", err, path, tt.want)
			}
		})
	}
	if _, err := loadKeyMap(filepath.Join(t.TempDir(), "absent.yaml")); err != nil {
		t.Errorf("a missing file is the defaults, got %v", err)
	}
}

func TestKeys_fileLocation(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	if got := keysFile(); got != "/cfg/gkedoctor/keys.yaml" {
		t.Errorf("keysFile() = %q", got)
	}
}
