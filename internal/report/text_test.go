package report

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gkedoctor/gkedoctor/checks"
)

// replay feeds the events the engine would send for results (started, steps, finished), then Final.
func replay(t *testing.T, f fixture, opts TextOptions) string {
	t.Helper()
	var buf bytes.Buffer
	tx := NewText(&buf, opts)
	at := fixtureStart
	for _, r := range f.results() {
		tx.Event(checks.Event{Kind: checks.EventStarted, CheckID: r.ID, Time: at})
		for i := range r.Evidence {
			tx.Event(checks.Event{Kind: checks.EventStep, CheckID: r.ID, Step: &r.Evidence[i], Time: at})
		}
		r := r
		tx.Event(checks.Event{Kind: checks.EventFinished, CheckID: r.ID, Result: &r, Time: at})
	}
	if err := tx.Final(f.build()); err != nil {
		t.Fatalf("Final: %v", err)
	}
	if err := tx.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	return buf.String()
}

func TestTextGolden(t *testing.T) {
	for _, f := range fixtures() {
		for _, verbose := range []bool{false, true} {
			name := "text_" + f.name
			if verbose {
				name += "_verbose"
			}
			t.Run(name, func(t *testing.T) {
				plain := replay(t, f, TextOptions{Verbose: verbose})
				colored := replay(t, f, TextOptions{Color: true, Verbose: verbose})
				if strings.Contains(plain, "\x1b") {
					t.Errorf("Color:false output contains an ESC byte:\n%q", plain)
				}
				if !strings.Contains(colored, "\x1b[") {
					t.Errorf("Color:true output has no ANSI sequence")
				}
				if stripANSI(colored) != plain {
					t.Errorf("colour changes the text, not just its colour:\nplain:\n%s\nstripped:\n%s", plain, stripANSI(colored))
				}
				golden(t, name, stripANSI(colored))
			})
		}
	}
}

func TestTextGlyphIsAlwaysFollowedByItsStatusWord(t *testing.T) {
	out := replay(t, fixtures()[0], TextOptions{Verbose: true})
	for _, s := range checks.Statuses {
		g := Glyph(s)
		for _, line := range strings.Split(out, "\n") {
			i := strings.Index(line, g+" ")
			if i < 0 {
				continue
			}
			if !strings.HasPrefix(line[i+len(g)+1:], string(s)) {
				t.Errorf("glyph %s not followed by %q: %q", g, s, line)
			}
		}
		if !strings.Contains(out, g+" "+string(s)) {
			t.Errorf("output never shows %s %s", g, s)
		}
	}
}

func TestTextEventPrintsOneLinePerFinishedCheck(t *testing.T) {
	r := checks.Result{ID: "dns-servfail", Status: checks.Fail, Cause: "scope", Summary: "SERVFAIL\nfrom 169.254.169.254", Duration: 1500 * time.Millisecond,
		Evidence: []checks.Evidence{{Step: "query", Status: checks.Fail, Command: "dig @169.254.169.254 x"}}}
	tests := []struct {
		name    string
		verbose bool
		ev      checks.Event
		want    string
	}{
		{"finished", false, checks.Event{Kind: checks.EventFinished, CheckID: r.ID, Result: &r},
			"✗ fail   dns-servfail  SERVFAIL from 169.254.169.254  (1.5s)\n"},
		{"started_is_quiet", false, checks.Event{Kind: checks.EventStarted, CheckID: r.ID}, ""},
		{"step_is_quiet", false, checks.Event{Kind: checks.EventStep, CheckID: r.ID, Step: &r.Evidence[0]}, ""},
		{"started_verbose", true, checks.Event{Kind: checks.EventStarted, CheckID: r.ID}, "… dns-servfail started\n"},
		{"step_verbose", true, checks.Event{Kind: checks.EventStep, CheckID: r.ID, Step: &r.Evidence[0]},
			"    dns-servfail: ✗ fail   query\n                  $ dig @169.254.169.254 x\n"},
		{"finished_without_result", false, checks.Event{Kind: checks.EventFinished, CheckID: "x"},
			"⊘ error  x  finished without a result (a bug in the engine)\n"},
		{"step_verbose_nil_step", true, checks.Event{Kind: checks.EventStep, CheckID: r.ID}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewText(&buf, TextOptions{Verbose: tt.verbose}).Event(tt.ev)
			if buf.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", buf.String(), tt.want)
			}
		})
	}
}

func TestTextFinalAloneWorksWithoutEvents(t *testing.T) {
	var buf bytes.Buffer
	if err := NewText(&buf, TextOptions{}).Final(fixtures()[0].build()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Summary: 1 pass, 1 fail, 1 warn, 1 skip, 1 error  (5 checks in 3.2s)",
		"cause: clusterip-target",
		"$ kubectl get service development-agent -n default -o wide",
		"[destructive] [reversible] [vpc-wide]",
		"[advice]",
		"next: gkedoctor fix clusterip-unreachable  ·  gkedoctor explain clusterip-unreachable",
		"next: gkedoctor explain websocket-handshake",
		"– skip   sa-token-401",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Final output lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "run-vpc-egress") {
		t.Errorf("Final details a passing check:\n%s", buf.String())
	}
}

func TestTextNeverPassesControlCharactersFromData(t *testing.T) {
	out := replay(t, fixture{name: "secrets", results: fixtures()[4].results}, TextOptions{Verbose: true})
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("text output carries control characters from evidence:\n%q", out)
	}
}

func TestTextIsSafeForConcurrentEvents(t *testing.T) {
	var buf bytes.Buffer
	tx := NewText(&buf, TextOptions{Color: true, Verbose: true})
	var wg sync.WaitGroup
	const n = 50
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("check-%02d", i)
			tx.Event(checks.Event{Kind: checks.EventStarted, CheckID: id})
			r := checks.Result{ID: id, Status: checks.Pass, Summary: "ok"}
			tx.Event(checks.Event{Kind: checks.EventFinished, CheckID: id, Result: &r})
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(stripANSI(buf.String()), "\n"), "\n")
	if len(lines) != 2*n {
		t.Fatalf("got %d lines, want %d", len(lines), 2*n)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "… check-") && !strings.HasPrefix(l, "✓ pass   check-") {
			t.Errorf("interleaved or torn line: %q", l)
		}
	}
}

func TestTextRemembersTheFirstWriteError(t *testing.T) {
	tx := NewText(failingWriter{}, TextOptions{})
	r := checks.Result{ID: "x", Status: checks.Pass}
	tx.Event(checks.Event{Kind: checks.EventFinished, CheckID: "x", Result: &r})
	if tx.Err() == nil {
		t.Fatal("Err() is nil after a failed write")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0ms", -time.Second: "0ms", 340 * time.Millisecond: "340ms", 1240 * time.Millisecond: "1.2s",
		59 * time.Second: "59.0s", 125 * time.Second: "2m05s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// openPTY returns the follower side of a new pseudo-terminal: a real terminal for ColorEnabled.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty follower: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

func TestColorEnabled(t *testing.T) {
	notTTY, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer notTTY.Close()
	tty := openPTY(t)
	unset := "\x00unset"
	tests := []struct {
		name    string
		out     *os.File
		noColor string
		term    string
		want    bool
	}{
		{"terminal", tty, unset, "xterm-256color", true},
		{"terminal_without_TERM", tty, unset, "", true},
		{"not_a_terminal", notTTY, unset, "xterm-256color", false},
		{"nil_file", nil, unset, "xterm-256color", false},
		{"NO_COLOR_set", tty, "1", "xterm-256color", false},
		{"NO_COLOR_set_but_empty", tty, "", "xterm-256color", false},
		{"TERM_dumb", tty, unset, "dumb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", "") // restores the original after the test
			t.Setenv("TERM", tt.term)
			if tt.noColor == unset {
				os.Unsetenv("NO_COLOR")
			} else {
				os.Setenv("NO_COLOR", tt.noColor)
			}
			if got := ColorEnabled(tt.out); got != tt.want {
				t.Errorf("ColorEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}
