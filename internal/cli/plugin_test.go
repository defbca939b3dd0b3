package cli

import (
	"strings"
	"testing"
)

func TestProgramName(t *testing.T) {
	for argv0, want := range map[string]string{
		"gkedoctor":                           "gkedoctor",
		"/usr/local/bin/gkedoctor":            "gkedoctor",
		"/home/u/.krew/bin/kubectl-gkedoctor": "kubectl gkedoctor",
		`C:\bin\kubectl-gkedoctor.exe`:        "kubectl gkedoctor",
		"kubectl_complete-gkedoctor":          "kubectl gkedoctor",
		"kubectl-gke_doctor":                  "kubectl gke-doctor",
		"kubectl-":                            "gkedoctor",
		"cli.test":                            "gkedoctor",
	} {
		if got := ProgramName(strings.ReplaceAll(argv0, `\`, "/")); got != want {
			t.Errorf("ProgramName(%q) = %q, want %q", argv0, got, want)
		}
	}
	if !isPluginCompleter("/x/kubectl_complete-gkedoctor") || isPluginCompleter("/x/kubectl-gkedoctor") || isPluginCompleter("kubectl_complete-") {
		t.Error("isPluginCompleter")
	}
}

// TestPluginNameInHelpAndErrors: run as kubectl's plugin, usage lines, examples, quoted commands and
// the error prefix say "kubectl gkedoctor"; run as itself, nothing changes.
func TestPluginNameInHelpAndErrors(t *testing.T) {
	defer func(s string) { invokedAs = s }(invokedAs)
	invokedAs = "kubectl gkedoctor"
	code, out, _ := run(t, "fix", "--help")
	for _, want := range []string{"\n  kubectl gkedoctor fix ID... | --all [flags]", "\n  kubectl gkedoctor fix --all --dry-run", `"kubectl gkedoctor undo"`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("fix --help lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut := run(t, "explain", "--bogus")
	if code != ExitUsage || !strings.HasPrefix(errOut, "kubectl gkedoctor: ") || !strings.Contains(errOut, "kubectl gkedoctor explain --help") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	invokedAs = "gkedoctor"
	_, out, _ = run(t, "fix", "--help")
	if strings.Contains(out, "kubectl gkedoctor") {
		t.Errorf("the plain binary calls itself kubectl gkedoctor:\n%s", out)
	}
}
