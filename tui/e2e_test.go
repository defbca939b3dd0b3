package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestE2E_demoInTmux runs the built binary as a person would: `gkedoctor demo` in a detached tmux
// session at 120x40, keys through send-keys, the screen through capture-pane. It finds the failing
// reachability check with its cause, fixes it with f (the internal load balancers: warn, the client
// still calls the cluster names), f again (the client fix), sees it pass, undoes the newest fix with u
// and sees it warn again; then, with --read-only, presses f, finds the reason on screen and the world unchanged.
//
// It runs whenever tmux is installed (make test installs it through hack/install-test-deps.sh) and is
// skipped with -short. It needs the demo world and the clusterip-unreachable check; when `gkedoctor
// audit --demo` does not report that check failing, it fails and says so rather than skipping.
func TestE2E_demoInTmux(t *testing.T) {
	tmuxBin, bin := e2eBinaries(t)
	cause := demoPrecondition(t, bin)

	latency := []string{}
	if out, _ := exec.Command(bin, "demo", "--help").CombinedOutput(); bytes.Contains(out, []byte("--latency")) {
		latency = []string{"--latency", "0"}
	}

	// gkedoctor demo --triage: the triage screen first, with its own keys in the footer; a bracketed
	// paste is analysed, enter waits for the first run and then runs exactly dns-servfail.
	t.Run("triage", func(t *testing.T) {
		s := startTmux(t, tmuxBin, bin, t.TempDir(), append([]string{"demo", "--triage"}, latency...)...)
		s.waitFor("the triage screen", func(scr string) bool {
			return strings.Contains(scr, "Triage —") && strings.Contains(scr, "enter run these checks") && !strings.Contains(scr, "f fix")
		})
		if err := s.run("set-buffer", "-b", "triage", "Traceback (most recent call last):\nsocket.gaierror: [Errno -2] Name or service not known\n"+
			"requests.exceptions.ConnectionError: HTTPConnectionPool(host='development-agent.default.svc.cluster.local', port=80)"); err != nil {
			t.Fatal(err)
		}
		if err := s.run("paste-buffer", "-p", "-d", "-b", "triage", "-t", s.name); err != nil {
			t.Fatal(err)
		}
		s.waitFor("the analysis", func(scr string) bool {
			return strings.Contains(scr, "Enter runs dns-servfail") && strings.Contains(scr, "default/development-agent")
		})
		s.keys("Enter")
		s.waitForLong("the triage's run", 2*time.Minute, func(scr string) bool {
			return strings.Contains(scr, "triage: running dns-servfail") && !listRunning(scr) && rowStatus(scr, "dns-servfail") != ""
		})
		s.quit()
	})

	t.Run("fix_and_undo", func(t *testing.T) {
		state := t.TempDir()
		s := startTmux(t, tmuxBin, bin, state, append([]string{"demo"}, latency...)...)
		s.waitChecksDone("clusterip-unreachable", "fail")
		s.filterTo("clusterip-unreachable")
		s.waitFor("the cause "+cause+" in the detail pane", func(scr string) bool { return strings.Contains(scr, "Cause "+cause) })

		// f applies the recommended set (the internal load balancers); the client still calls the
		// cluster names, so the re-check warns (client-calls-cluster-name) and f again points it at
		// the load balancers (the client fix); then it passes.
		fixSet := func(want string) {
			s.keys("f")
			s.waitFor("the fix to start or ask", func(scr string) bool {
				return strings.Contains(scr, "fixing") || strings.Contains(scr, "Apply this fix?") || strings.Contains(scr, "Which fix?") ||
					rowStatus(scr, "clusterip-unreachable") == want
			})
			if scr := s.capture(); strings.Contains(scr, "Which fix?") {
				s.keys("a") // the recommended set
			}
			if scr := s.capture(); strings.Contains(scr, "Apply this fix?") || strings.Contains(scr, "Apply these") {
				s.keys("y")
			}
			s.waitForLong("clusterip-unreachable to "+want+" after the fix", 3*time.Minute, func(scr string) bool {
				return rowStatus(scr, "clusterip-unreachable") == want && !listRunning(scr)
			})
		}
		fixSet("warn")
		s.waitFor("the cause client-calls-cluster-name in the detail pane", func(scr string) bool { return strings.Contains(scr, "Cause client-calls-cluster-name") })
		fixSet("pass")
		// f applied two recommended sets: one journal entry per plan, all applied.
		applied := journalStates(t, state)
		if applied["applied"] < 3 || len(applied) != 1 {
			t.Fatalf("journal after the fixes: %v", applied)
		}

		s.keys("u")
		s.waitForLong("clusterip-unreachable to warn again after the undo of the client fix", 2*time.Minute, func(scr string) bool {
			return rowStatus(scr, "clusterip-unreachable") == "warn" && !listRunning(scr) && strings.Contains(scr, "undone")
		})
		// u undoes the newest entry.
		if after := journalStates(t, state); after["undone"] != 1 || after["applied"] != applied["applied"]-1 {
			t.Fatalf("journal after the undo: %v (before: %v)", after, applied)
		}
		s.quit()
	})

	// Seed 000's second phase in the checklist: sa-token-401's fix, then websocket-handshake's advice,
	// which only a person can carry out (the demo world's developers play that person), recorded with
	// f and y; both pass on the re-check.
	t.Run("token_and_websocket_advice", func(t *testing.T) {
		state := t.TempDir()
		s := startTmux(t, tmuxBin, bin, state, append([]string{"demo"}, latency...)...)
		s.waitChecksDone("websocket-handshake", "fail")
		s.filterTo("sa-token-401")
		s.waitFor("sa-token-401's cause", func(scr string) bool { return strings.Contains(scr, "Cause sa-recreated") })
		s.keys("f")
		s.waitFor("the fix to start or ask", func(scr string) bool {
			return strings.Contains(scr, "fixing") || strings.Contains(scr, "Apply this fix?") || strings.Contains(scr, "Which fix?") ||
				rowStatus(scr, "sa-token-401") == "pass"
		})
		if scr := s.capture(); strings.Contains(scr, "Which fix?") {
			s.keys("a")
		}
		if scr := s.capture(); strings.Contains(scr, "Apply this fix?") || strings.Contains(scr, "Apply these") {
			s.keys("y")
		}
		s.waitForLong("sa-token-401 to pass after its fix", 3*time.Minute, func(scr string) bool {
			return rowStatus(scr, "sa-token-401") == "pass" && !listRunning(scr)
		})

		// Clear the first filter, and wait for it to be gone before typing: under load an ESC
		// followed at once by a letter is read as alt+letter.
		s.keys("/")
		s.waitFor("the filter prompt", func(scr string) bool { return strings.Contains(scr, "esc clear filter") })
		s.keys("Escape")
		s.waitFor("the filter to clear", func(scr string) bool { return !strings.Contains(scr, `filter "sa-token-401`) })
		s.filterTo("websocket-handshake")
		s.waitFor("websocket-handshake's cause", func(scr string) bool { return strings.Contains(scr, "Cause shared-client-stream") })
		s.keys("f")
		s.waitFor("the question for advice", func(scr string) bool { return strings.Contains(scr, "Have you made this change?") })
		s.keys("y")
		s.waitForLong("websocket-handshake to pass once the change is deployed", 3*time.Minute, func(scr string) bool {
			return rowStatus(scr, "websocket-handshake") == "pass" && !listRunning(scr)
		})
		if st := journalStates(t, state); st["applied"] < 2 || len(st) != 1 {
			t.Fatalf("journal: %v", st)
		}
		s.quit()
	})

	// Issue 12's second layout in the checklist: the shared-vpc world's reachability story (internal
	// load balancers; the host's firewall rule as advice for its network team, carried out; the client
	// fix) ends with clusterip-unreachable passing, and o then observes it live from a Cloud Run probe
	// job with the client's VPC settings (issue 13), which agrees.
	t.Run("shared_vpc_world_and_observe", func(t *testing.T) {
		state := t.TempDir()
		s := startTmux(t, tmuxBin, bin, state, append([]string{"demo", "--world", "shared-vpc"}, latency...)...)
		s.waitChecksDone("clusterip-unreachable", "fail")
		s.filterTo("clusterip-unreachable")
		step := func(what string, want func(scr string) bool) {
			s.keys("f")
			s.waitFor("the fix to start or ask ("+what+")", func(scr string) bool {
				return strings.Contains(scr, "fixing") || strings.Contains(scr, "Apply this fix?") || strings.Contains(scr, "Which fix?") ||
					strings.Contains(scr, "Have you made this change?") || want(scr)
			})
			scr := s.capture()
			switch {
			case strings.Contains(scr, "Which fix?"):
				s.keys("a")
			case strings.Contains(scr, "Apply this fix?"), strings.Contains(scr, "Apply these"), strings.Contains(scr, "Have you made this change?"):
				s.keys("y")
			}
			if scr := s.capture(); strings.Contains(scr, "Apply this fix?") || strings.Contains(scr, "Apply these") {
				s.keys("y")
			}
			s.waitForLong(what, 3*time.Minute, func(scr string) bool { return want(scr) && !listRunning(scr) })
		}
		step("the internal load balancers, then the host's missing rule", func(scr string) bool {
			return strings.Contains(scr, "Cause firewall-blocks-serverless")
		})
		step("the network team's rule, then the client still calling the cluster name", func(scr string) bool {
			return rowStatus(scr, "clusterip-unreachable") == "warn"
		})
		step("the client fix, then a pass", func(scr string) bool { return rowStatus(scr, "clusterip-unreachable") == "pass" })
		s.keys("o")
		s.waitFor("the observe preview", func(scr string) bool {
			return strings.Contains(scr, "Observe clusterip-unreachable live?") && strings.Contains(scr, "Cloud Run job")
		})
		s.keys("y")
		s.waitForLong("the observation", 2*time.Minute, func(scr string) bool { return strings.Contains(scr, "observed clusterip-unreachable live") })
		if scr := s.capture(); strings.Contains(scr, "DISAGREES") {
			t.Fatalf("the live observation disagrees with the verdict:\n%s", scr)
		}
		s.quit()
	})

	t.Run("read_only", func(t *testing.T) {
		state := t.TempDir()
		s := startTmux(t, tmuxBin, bin, state, append([]string{"demo", "--read-only"}, latency...)...)
		s.waitFor("the [RO] badge", func(scr string) bool { return strings.Contains(scr, "[RO]") })
		s.waitChecksDone("clusterip-unreachable", "fail")
		s.filterTo("clusterip-unreachable")
		s.keys("f")
		s.waitFor("the read-only reason", func(scr string) bool { return strings.Contains(scr, "f fix — disabled: read-only") })
		// The world is unchanged: a re-run on fresh facts still fails, and nothing was journaled.
		s.keys("r")
		s.waitFor("the re-run to start", func(scr string) bool { return strings.Contains(scr, "re-running clusterip-unreachable") })
		s.waitChecksDone("clusterip-unreachable", "fail")
		if entries := journalEntries(t, state); len(entries) != 0 {
			t.Fatalf("read-only run wrote the journal: %v", entries)
		}
		s.quit()
	})
}

// TestE2E_tmuxSmoke runs the real binary's checklist without a cluster, a project or the demo world:
// it proves the terminal plumbing (full screen, header, help, quit, exit status) on its own.
func TestE2E_tmuxSmoke(t *testing.T) {
	tmuxBin, bin := e2eBinaries(t)
	s := startTmuxEnv(t, tmuxBin, bin, t.TempDir(), []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "absent")}, "--no-gcp")
	s.waitFor("the header", func(scr string) bool {
		return strings.Contains(scr, "[RW]") && strings.Contains(scr, "⊘ Kubernetes") && strings.Contains(scr, "clusterip-unreachable")
	})
	s.waitFor("the checks to finish", func(scr string) bool { return !listRunning(scr) })
	s.keys("?")
	s.waitFor("the full help", func(scr string) bool {
		return strings.Contains(scr, "re-run all") && strings.Contains(scr, "keys.yaml")
	})
	s.keys("Escape")
	s.waitFor("the checklist again", func(scr string) bool { return strings.Contains(scr, "Checks") })
	s.quit()
}

// e2eBinaries is every end-to-end test's start: skipped with -short or without tmux, it returns
// tmux's path and the freshly built binary.
func e2eBinaries(t *testing.T) (tmuxBin, bin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	tmuxBin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("end-to-end test: tmux is not installed (make test installs it with hack/install-test-deps.sh)")
	}
	return tmuxBin, buildGkedoctor(t)
}

func buildGkedoctor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gkedoctor")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gkedoctor")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gkedoctor: %v\n%s", err, out)
	}
	return bin
}

// demoPrecondition asks the audit what the demo world's reachability check finds, and returns its
// cause. Without the demo world or the check the TUI test cannot mean anything: it fails, saying why.
func demoPrecondition(t *testing.T, bin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "audit", "--demo", "-o", "json")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep struct {
		Results []struct {
			ID, Status, Cause, Summary string
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("`gkedoctor audit --demo -o json` gave no report (%v; exit: %v); stderr: %s\n"+
			"The end-to-end test needs the demo world (internal/sim, wired into cmd/gkedoctor) and the clusterip-unreachable check.",
			err, runErr, strings.TrimSpace(stderr.String()))
	}
	var ids []string
	for _, r := range rep.Results {
		ids = append(ids, r.ID+"="+r.Status)
		if r.ID == "clusterip-unreachable" {
			if r.Status != "fail" || r.Cause == "" {
				t.Fatalf("the demo world's clusterip-unreachable is %s (cause %q: %s); the end-to-end test needs it failing with a cause",
					r.Status, r.Cause, r.Summary)
			}
			return r.Cause
		}
	}
	t.Fatalf("`gkedoctor audit --demo` has no clusterip-unreachable result (results: %s); the end-to-end test needs that check registered",
		strings.Join(ids, ", "))
	return ""
}

type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
	name   string
}

func startTmux(t *testing.T, tmuxBin, bin, state string, args ...string) *tmuxSession {
	return startTmuxEnv(t, tmuxBin, bin, state, nil, args...)
}

func startTmuxEnv(t *testing.T, tmuxBin, bin, state string, env []string, args ...string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, tmux: tmuxBin, socket: fmt.Sprintf("gkd-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()), name: "gkd"}
	cfgDir := t.TempDir()
	quoted := []string{shellQuote(bin)}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	// The pane outlives the program so its exit status and any message stay capturable.
	envs := []string{"XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + cfgDir, "LANG=C.UTF-8"}
	var qenv []string
	for _, e := range append(envs, env...) {
		qenv = append(qenv, shellQuote(e))
	}
	shell := fmt.Sprintf("env %s %s; echo; echo gkedoctor exited with status $?; sleep 600",
		strings.Join(qenv, " "), strings.Join(quoted, " "))
	t.Cleanup(func() { _ = s.run("kill-server") })
	if err := s.run("-f", "/dev/null", "new-session", "-d", "-s", s.name, "-x", "120", "-y", "40", shell); err != nil {
		t.Fatalf("tmux new-session: %v", err)
	}
	return s
}

func (s *tmuxSession) run(args ...string) error {
	all := append([]string{"-u", "-L", s.socket}, args...)
	cmd := exec.Command(s.tmux, all...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (s *tmuxSession) capture() string {
	cmd := exec.Command(s.tmux, "-u", "-L", s.socket, "capture-pane", "-p", "-t", s.name)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		if err := s.run("send-keys", "-t", s.name, k); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *tmuxSession) literal(text string) {
	s.t.Helper()
	if err := s.run("send-keys", "-t", s.name, "-l", text); err != nil {
		s.t.Fatal(err)
	}
}

func (s *tmuxSession) waitFor(what string, cond func(string) bool) string {
	s.t.Helper()
	return s.waitForLong(what, 90*time.Second, cond)
}

func (s *tmuxSession) waitForLong(what string, limit time.Duration, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.capture()
		if cond(scr) {
			return scr
		}
		if strings.Contains(scr, "gkedoctor exited with status") {
			s.t.Fatalf("gkedoctor exited while waiting for %s:\n%s", what, scr)
		}
		time.Sleep(150 * time.Millisecond)
	}
	s.t.Fatalf("timed out after %s waiting for %s; the screen:\n%s", limit, what, scr)
	return ""
}

// waitChecksDone waits until nothing runs and id has the wanted status.
func (s *tmuxSession) waitChecksDone(id, status string) {
	s.t.Helper()
	s.waitForLong(fmt.Sprintf("the checks to finish with %s %s", id, status), 2*time.Minute, func(scr string) bool {
		return !listRunning(scr) && rowStatus(scr, id) == status
	})
}

// filterTo narrows the list to one check, which selects it.
func (s *tmuxSession) filterTo(id string) {
	s.t.Helper()
	s.keys("/")
	s.literal(id)
	s.keys("Enter")
	s.waitFor("the filter "+id, func(scr string) bool { return strings.Contains(scr, fmt.Sprintf("filter %q", id)) })
}

func (s *tmuxSession) quit() {
	s.t.Helper()
	s.keys("q")
	s.waitFor("gkedoctor to exit", func(scr string) bool { return strings.Contains(scr, "gkedoctor exited with status 0") })
}

var rowRE = regexp.MustCompile(`^[› ] \S+ (pass|fail|warn|skip|error|running|queued|not run|planned)\s+(?:[▸▾] )?\s*(\S+)`)

// rowStatus reads the status word of a check's row in the checklist (the part left of the separator).
func rowStatus(scr, id string) string {
	for _, line := range strings.Split(scr, "\n") {
		left, _, _ := strings.Cut(line, "│")
		if m := rowRE.FindStringSubmatch(left); m != nil && strings.TrimRight(m[2], "…") == id {
			return m[1]
		}
	}
	return ""
}

// listRunning reports whether the checklist's title still counts running checks.
func listRunning(scr string) bool {
	for _, line := range strings.Split(scr, "\n") {
		left, _, _ := strings.Cut(line, "│")
		if strings.HasPrefix(strings.TrimSpace(left), "Checks") {
			return strings.Contains(left, "running")
		}
	}
	return true
}

func journalEntries(t *testing.T, state string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, dir := range []string{"journal-demo", "journal"} {
		files, _ := filepath.Glob(filepath.Join(state, "gkedoctor", dir, "*.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var e map[string]any
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("journal entry %s: %v", f, err)
			}
			out = append(out, e)
		}
	}
	return out
}

// journalStates counts the journal's entries by state.
func journalStates(t *testing.T, state string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range journalEntries(t, state) {
		st, _ := e["state"].(string)
		out[st]++
	}
	return out
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestE2E_rowStatusParsesTheChecklist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "checklist-160x48.golden"))
	if err != nil {
		t.Fatal(err)
	}
	scr := string(b)
	for id, want := range map[string]string{"clusterip-unreachable": "fail", "run-vpc-egress": "pass", "sa-token-401": "skip", "pod-egress-cross-project": "planned"} {
		if got := rowStatus(scr, id); got != want {
			t.Errorf("rowStatus(%s) = %q, want %q", id, got, want)
		}
	}
	if listRunning(scr) {
		t.Error("listRunning on a finished checklist")
	}
	b, _ = os.ReadFile(filepath.Join("testdata", "running-160x48.golden"))
	if !listRunning(string(b)) || rowStatus(string(b), "dns-servfail") != "running" {
		t.Error("the running checklist is not recognised")
	}
}
