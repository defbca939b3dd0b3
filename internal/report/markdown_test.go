package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/checks"
)

func writeMarkdown(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatalf("WriteMarkdown: %v", err)
	}
	return buf.String()
}

func TestMarkdownGolden(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			out := writeMarkdown(t, f.build())
			if strings.Contains(out, "\x1b") {
				t.Errorf("Markdown contains an ESC byte")
			}
			golden(t, "markdown_"+f.name, stripANSI(out))
		})
	}
}

func TestMarkdownIsRedacted(t *testing.T) {
	r := fixtures()[4].build()
	out := writeMarkdown(t, r)
	for _, s := range secretValues {
		if strings.Contains(out, s) {
			t.Errorf("Markdown leaks %q", s)
		}
	}
	for _, keep := range []string{"orchestrai-sa-token-x7k2p", "10.132.0.2", "Authorization: Bearer [REDACTED]",
		"token=[REDACTED]", "password=[REDACTED]", "gcloud auth print-access-token"} {
		if !strings.Contains(out, keep) {
			t.Errorf("Markdown lost %q:\n%s", keep, out)
		}
	}
	// The report is redacted when it is built (DESIGN §7: no output carries a credential), so the
	// JSON and the terminal text are as safe to share as the ticket.
	if strings.Contains(r.Results[0].Evidence[1].Detail, "ya29.") {
		t.Errorf("report.New kept an access token: %s", r.Results[0].Evidence[1].Detail)
	}
}

func TestMarkdownSections(t *testing.T) {
	out := writeMarkdown(t, fixtures()[0].build())
	for _, want := range []string{
		"# gkedoctor audit report\n",
		"| Cluster | `dev-orchestra-cluster` |",
		"| Ran from | laptop |",
		"**Summary:** 1 pass · 1 fail · 1 warn · 1 skip · 1 error (5 checks)",
		"## ✗ fail: `clusterip-unreachable` — Cloud Run → GKE Service reachable",
		"- **Cause:** `clusterip-target`",
		"— `kubectl get service development-agent -n default -o wide`",
		"```sh\n   kubectl expose service development-agent",
		"## – skip: `sa-token-401`",
		"**Not tested from where it ran:**",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestMarkdownEscaping(t *testing.T) {
	tests := []struct {
		name, summary, command, want, wantCmd string
	}{
		{"link_injection_is_inert", "click [here](https://evil.example) <script>x</script>", "",
			`click \[here\](https://evil.example) \<script\>x\</script\>`, ""},
		{"emphasis_and_pipes", "a*b*c | d_e_", "", `a\*b\*c \| d\_e\_`, ""},
		{"backticks_in_command", "s", "echo `date`", "", "`` echo `date` ``"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New("audit", "dev", checks.Target{}, fixtureStart, 0, []checks.Result{{
				ID: "x", Status: checks.Fail, Cause: "c", Summary: tt.summary,
				Evidence: []checks.Evidence{{Step: "s", Status: checks.Fail, Command: tt.command}},
			}})
			out := writeMarkdown(t, r)
			if tt.want != "" && !strings.Contains(out, tt.want) {
				t.Errorf("want %q in:\n%s", tt.want, out)
			}
			if tt.wantCmd != "" && !strings.Contains(out, tt.wantCmd) {
				t.Errorf("want %q in:\n%s", tt.wantCmd, out)
			}
		})
	}
}

func TestMarkdownFenceOutgrowsBackticksInCommands(t *testing.T) {
	var b strings.Builder
	mdFence(&b, "", "sh", "echo ```not the end```")
	if got, want := b.String(), "````sh\necho ```not the end```\n````\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
