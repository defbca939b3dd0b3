package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// invokedAs is the program name the user typed, from os.Args[0]: "gkedoctor", or "kubectl gkedoctor"
// when kubectl runs the binary as its plugin (installed as kubectl-gkedoctor on PATH, or by krew,
// which links kubectl-gkedoctor to the release binary). Tests set it.
var invokedAs = ProgramName(os.Args[0])

// completeAsPlugin is true when the binary runs as kubectl_complete-gkedoctor: kubectl (1.26+) runs
// that executable to complete `kubectl gkedoctor …` and it answers like `gkedoctor __complete …`.
var completeAsPlugin = isPluginCompleter(os.Args[0])

// ProgramName maps os.Args[0] to the name the tool calls itself in help, usage lines and errors.
// kubectl turns "kubectl foo bar" into the executable kubectl-foo-bar and "kubectl foo-bar" into
// kubectl-foo_bar; this is the inverse.
func ProgramName(argv0 string) string {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if isPluginCompleter(argv0) {
		base = "kubectl-" + strings.TrimPrefix(base, "kubectl_complete-")
	}
	rest, ok := strings.CutPrefix(base, "kubectl-")
	if !ok || rest == "" {
		return "gkedoctor"
	}
	return "kubectl " + strings.ReplaceAll(strings.ReplaceAll(rest, "-", " "), "_", "-")
}

func isPluginCompleter(argv0 string) bool {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	return strings.HasPrefix(base, "kubectl_complete-") && len(base) > len("kubectl_complete-")
}

// nameAs makes the command tree call itself name (the root's display name, which cobra uses in
// every usage line and "see … --help") and rewrites the examples and quoted command lines in the
// help text, so that `kubectl gkedoctor audit --help` shows commands the user can paste.
func nameAs(root *cobra.Command, name string) {
	if name == "" || name == root.Name() {
		return
	}
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = name
	// "gkedoctor " at the start of an example's line, or after a quote or backtick in prose (a
	// command line the user may paste). Compiled here: only the plugin form pays for it.
	exampleLine := regexp.MustCompile("(?m)^([ \\t]*)gkedoctor ")
	quotedCommand := regexp.MustCompile("([\"`])gkedoctor ")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Example = exampleLine.ReplaceAllString(c.Example, "${1}"+name+" ")
		c.Long = quotedCommand.ReplaceAllString(c.Long, "${1}"+name+" ")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
