package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/config"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// `gkedoctor config path|view|schema`: where the config file is, what a run would use and why, and
// the file's JSON Schema (what kubectl config view and gh config users look for).

func newConfigCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the config file's path, the effective settings and their sources, or its schema",
		Long: `The config file ($XDG_CONFIG_HOME/gkedoctor/config.yaml, else ~/.config/gkedoctor/config.yaml;
--config FILE or $GKEDOCTOR_CONFIG name another) holds defaults for the shared flags and readOnly rules
per kubeconfig context and per Google Cloud project, so production contexts open read-only unless
--write is given. Flags always beat the file; the file beats the built-in defaults. The demo world
ignores it.

Example file:

` + config.Example,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	path := &cobra.Command{
		Use:   "path",
		Short: "Print the path of the config file this run would read (and whether it exists, on stderr)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l := config.Locate(shared.ConfigPath)
			if l.Path == "" {
				return usageErrorf("no config file: no --config, no $%s, no $XDG_CONFIG_HOME and no home directory", config.EnvVar)
			}
			fmt.Fprintln(ios.Out, safeout.Line(l.Path))
			if _, err := os.Stat(l.Path); err != nil {
				fmt.Fprintf(ios.ErrOut, "%s: there is no file there (the path comes from %s): built-in defaults apply; %s config --help shows an example\n", invokedAs, l.Source, invokedAs)
			}
			return nil
		},
	}
	var output string
	view := &cobra.Command{
		Use:   "view",
		Short: "Show the settings a run would use (context, read-only, project, …), each with its source",
		Long: `Shows the settings a run with the same flags would use, each with where it came from: a flag,
the config file (file:line and the key), the kubeconfig, or the built-in default. "gkedoctor config view
--context CTX" shows what applies to another context.`,
		Example: `  gkedoctor config view
  gkedoctor config view --context gke_acme-prod_europe-west1_main -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigView(ios, shared, output)
		},
	}
	view.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json")
	_ = view.RegisterFlagCompletionFunc("output", fixedValues(formatsFromUsage(view.Flags().Lookup("output").Usage)...))
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the config file's JSON Schema (for editors: yaml-language-server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := ios.Out.Write(config.SchemaJSON)
			return err
		},
	}
	cmd.AddCommand(path, view, schema)
	return cmd
}

// configView is `config view -o json`.
type configView struct {
	File       string        `json:"file"`
	FileSource string        `json:"fileSource"`
	Exists     bool          `json:"exists"`
	Demo       bool          `json:"demo,omitempty"`
	Settings   []app.Setting `json:"settings"`
}

func runConfigView(ios *iostreams.IOStreams, o *app.Options, output string) error {
	if output != "text" && output != "json" {
		return usageErrorf("unknown output format %q for config view: valid formats are text, json", output)
	}
	if err := o.Complete(); err != nil {
		return err
	}
	f, loc := o.Config()
	v := configView{File: loc.Path, FileSource: loc.Source, Exists: f != nil, Demo: o.Demo, Settings: o.Effective()}
	if output == "json" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = ios.Out.Write(safeout.EscapeJSON(append(b, '\n')))
		return err
	}
	switch {
	case o.Demo:
		fmt.Fprintln(ios.Out, "Config file: not used with --demo (the demo world's target is fixed and nothing in it is real).")
	case f != nil:
		fmt.Fprintf(ios.Out, "Config file: %s (from %s)\n", safeout.Line(loc.Path), loc.Source)
	case loc.Path != "":
		fmt.Fprintf(ios.Out, "Config file: %s (from %s): not present, built-in defaults apply\n", safeout.Line(loc.Path), loc.Source)
	default:
		fmt.Fprintln(ios.Out, "Config file: none (no home directory)")
	}
	fmt.Fprintln(ios.Out)
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, s := range v.Settings {
		val := s.Value
		if val == "" {
			val = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, safeout.Line(val), safeout.Line(s.Source))
	}
	return tw.Flush()
}
