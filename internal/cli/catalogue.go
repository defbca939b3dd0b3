package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

func newChecksCmd(ios *iostreams.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "The catalogue: ids, titles, and what each check needs (APIs, IAM permissions, RBAC)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(output); err != nil {
				return err
			}
			cat := checks.Catalogue()
			switch output {
			case "json":
				enc := json.NewEncoder(ios.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"schemaVersion": 1, "checks": cat})
			case "markdown":
				fmt.Fprintln(ios.Out, "| id | kind | title | needs |\n|---|---|---|---|")
				for _, i := range cat {
					fmt.Fprintf(ios.Out, "| `%s` | %s | %s | %s |\n", i.ID, kindLabel(i), i.Title, needs(i, "; "))
				}
				return nil
			case "junit":
				return usageErrorf("-o junit is for check results; use text, json or markdown with `checks`")
			}
			tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tTITLE")
			for _, i := range cat {
				id := i.ID
				if i.Parent != "" {
					id = "  " + id
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", id, kindLabel(i), i.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(ios.Out, "\nWhat each check needs:")
			for _, i := range cat {
				fmt.Fprintf(ios.Out, "  %s: %s\n", i.ID, needs(i, "\n    "))
			}
			fmt.Fprintln(ios.Out, "\ngkedoctor explain ID prints the long explanation.")
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json, markdown")
	return cmd
}

func kindLabel(i checks.Info) string {
	if !i.Available {
		return i.Kind + " (planned)"
	}
	return i.Kind
}

func needs(i checks.Info, sep string) string {
	var parts []string
	if len(i.Requires.APIs) > 0 {
		parts = append(parts, "APIs: "+strings.Join(i.Requires.APIs, ", "))
	}
	if len(i.Requires.Permissions) > 0 {
		parts = append(parts, "IAM: "+strings.Join(i.Requires.Permissions, ", "))
	}
	if len(i.Requires.RBAC) > 0 {
		parts = append(parts, "RBAC: "+strings.Join(i.Requires.RBAC, "; "))
	}
	if len(parts) == 0 {
		return "nothing beyond a kubeconfig"
	}
	return strings.Join(parts, sep)
}

func newExplainCmd(ios *iostreams.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain ID",
		Short: "The long explanation of one check or cause",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if i, ok := checks.InfoFor(id); ok {
				w := ios.Out
				fmt.Fprintf(w, "%s — %s\n", i.ID, i.Title)
				fmt.Fprintf(w, "Failure mode: %s (%s)\n", i.FailureMode, kindLabel(i))
				if i.Parent != "" {
					fmt.Fprintf(w, "Part of: %s\n", i.Parent)
				}
				fmt.Fprintf(w, "\nGood state: %s\n\n%s\n", i.Good, wrap(i.Explanation, 100))
				var causes, skips []checks.Cause
				for _, c := range i.Causes {
					if c.Skip {
						skips = append(skips, c)
					} else {
						causes = append(causes, c)
					}
				}
				for _, l := range []struct {
					head string
					cs   []checks.Cause
				}{{"Causes, most frequent first:", causes}, {"Skips (could not look) when:", skips}} {
					if len(l.cs) > 0 {
						fmt.Fprintln(w, "\n"+l.head)
						for _, c := range l.cs {
							fmt.Fprintf(w, "  %s — %s\n    %s\n", c.ID, c.Title, c.Explanation)
						}
					}
				}
				fmt.Fprintf(w, "\nNeeds: %s\n", needs(i, "\n       "))
				return nil
			}
			if i, c, ok := checks.CauseFor(id); ok && i.ID == "" {
				fmt.Fprintf(ios.Out, "%s — %s\n\n%s\n\nAny check may report it (status %s).\n", c.ID, c.Title, wrap(c.Explanation, 100), sharedStatus(c))
				return nil
			}
			if i, c, ok := checks.CauseFor(id); ok {
				fmt.Fprintf(ios.Out, "%s/%s — %s\n\n%s\n\nCheck: %s (gkedoctor explain %s)\n", i.ID, c.ID, c.Title, wrap(c.Explanation, 100), i.ID, i.ID)
				return nil
			}
			return usageErrorf("unknown check or cause id %q; `gkedoctor checks` lists the ids", id)
		},
	}
}

func sharedStatus(c checks.Cause) string {
	if c.Skip {
		return "skip"
	}
	return "error"
}

func wrap(s string, width int) string {
	var out, line strings.Builder
	for _, w := range strings.Fields(s) {
		if line.Len() > 0 && line.Len()+1+len(w) > width {
			out.WriteString(line.String() + "\n")
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(w)
	}
	out.WriteString(line.String())
	return out.String()
}

func newVersionCmd(ios *iostreams.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(ios.Out, version.String())
			return nil
		},
	}
}
