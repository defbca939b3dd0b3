package unbound_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/testenv/unbound"
)

// gaiScript resolves each name with getaddrinfo (glibc, through Python's
// socket module, the client of the seed incidents) and prints the error
// number and text, or OK.
const gaiScript = `
import socket, sys
for n in sys.argv[1:]:
    try:
        socket.getaddrinfo(n, 80)
        print(n + "\tOK\t")
    except socket.gaierror as e:
        print(n + "\t" + str(e.args[0]) + "\t" + e.args[1])
`

// TestSymptomMatchesGlibc checks probe's Symptom and EAI against what a real
// glibc client prints for each outcome. glibc only queries port 53 on the
// resolv.conf servers, so Unbound listens on 127.0.0.77:53 and Python runs in
// a private mount namespace where /etc/resolv.conf is bind-mounted to point
// at it. Needs root, unshare(1) and python3; skipped otherwise.
func TestSymptomMatchesGlibc(t *testing.T) {
	unbound.Require(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for port 53 and a mount namespace")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	if out, err := exec.Command(unshare, "-m", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a mount namespace here: %v %s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := unbound.Start(ctx, unbound.Config{
		Listen: "127.0.0.77:53",
		LocalZones: map[string]string{
			"t.internal.":       "static",
			"refused.internal.": "always_refuse",
		},
		LocalData: []string{
			"a.t.internal. 60 IN A 10.132.0.6",
			"mx.t.internal. 60 IN MX 10 a.t.internal.",
		},
		ForwardZones: map[string][]string{"dead.internal.": {"127.0.0.1@" + strconv.Itoa(deadPort(t))}},
	})
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") || strings.Contains(err.Error(), "could not open ports") {
			t.Skipf("127.0.0.77:53 is taken: %v", err)
		}
		t.Fatal(err)
	}
	defer r.Stop()

	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.77\noptions timeout:2 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "gai.py")
	if err := os.WriteFile(script, []byte(gaiScript), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"a.t.internal", "missing.t.internal", "mx.t.internal", "x.dead.internal", "x.refused.internal"}
	cmd := exec.CommandContext(ctx, unshare, append([]string{"-m", "sh", "-c",
		`mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv, py, script}, names...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("could not run getaddrinfo in a namespace: %v %s", err, stderr.String())
	}
	got := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) == 3 {
			got[f[0]] = [2]string{f[1], f[2]}
		}
	}

	wantOutcome := map[string]probe.Outcome{
		"a.t.internal":       probe.OutcomeAnswer,
		"missing.t.internal": probe.OutcomeNXDomain,
		"mx.t.internal":      probe.OutcomeNoData,
		"x.dead.internal":    probe.OutcomeServFail,
		"x.refused.internal": probe.OutcomeRefused,
	}
	for _, n := range names {
		res := query(t, r.Addr, n, dns.TypeA)
		if res.Outcome != wantOutcome[n] {
			t.Errorf("%s: probe outcome %v (%v), want %v", n, res.Outcome, res.Err, wantOutcome[n])
			continue
		}
		g, ok := got[n]
		if !ok {
			t.Errorf("%s: no getaddrinfo result in %q", n, out)
			continue
		}
		_, code := res.EAI()
		wantCode, wantText := "OK", ""
		if res.Outcome != probe.OutcomeAnswer {
			wantCode, wantText = strconv.Itoa(code), res.Symptom()
		}
		if g[0] != wantCode || g[1] != wantText {
			t.Errorf("%s (%v): glibc says [Errno %s] %q; probe says [Errno %s] %q", n, res.Outcome, g[0], g[1], wantCode, wantText)
		}
	}
}
