package docgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestManPageForEveryCommand: every command a user can run (not hidden, not the help topics) has
// its page, named as man expects (gkedoctor-audit.1 for "gkedoctor audit"), with its synopsis.
func TestManPageForEveryCommand(t *testing.T) {
	dir := t.TempDir()
	date := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := Generate(dir, date); err != nil {
		t.Fatal(err)
	}
	var want []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		want = append(want, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(Root())
	names := map[string]bool{}
	for _, c := range want {
		names[c.Name()] = true
		file := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("no man page for %q: %v", c.CommandPath(), err)
			continue
		}
		page := string(b)
		if !strings.Contains(page, `.TH "GKEDOCTOR" "1" "Jan 2026"`) || !strings.Contains(page, ".SH SYNOPSIS") {
			t.Errorf("%s: header or synopsis missing:\n%.400s", file, page)
		}
		if !strings.Contains(page, strings.ReplaceAll(c.CommandPath(), "-", `\-`)) {
			t.Errorf("%s does not name %q", file, c.CommandPath())
		}
	}
	for _, n := range []string{"gkedoctor", "audit", "check", "fix", "undo", "explain", "checks", "demo", "version", "completion", "bash"} {
		if !names[n] {
			t.Errorf("the walk missed %q: the test would pass on a tree without it", n)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(files) != len(want) {
		t.Errorf("%d pages for %d commands: %v", len(files), len(want), files)
	}
	// Hidden commands (cobra's __complete) get no page.
	if _, err := os.Stat(filepath.Join(dir, "gkedoctor-__complete.1")); err == nil {
		t.Error("a hidden command has a man page")
	}
}

func TestCompletionScripts(t *testing.T) {
	dir := t.TempDir()
	if err := Completions(dir); err != nil {
		t.Fatal(err)
	}
	for file, marker := range map[string]string{
		"gkedoctor.bash": "complete -o default -F __start_gkedoctor gkedoctor",
		"_gkedoctor":     "#compdef gkedoctor",
		"gkedoctor.fish": "complete -c gkedoctor",
		"gkedoctor.ps1":  "Register-ArgumentCompleter",
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if !strings.Contains(string(b), marker) || !strings.Contains(string(b), "__complete") {
			t.Errorf("%s lacks %q or the __complete call", file, marker)
		}
	}
}
