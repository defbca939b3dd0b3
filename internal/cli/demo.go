package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
)

func newDemoCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	var guided bool
	latency := 300 * time.Millisecond
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The interactive checklist on the built-in demo world (no cloud, no cluster needed)",
		Long: `Starts a simulated Google Cloud project and GKE cluster in-process, on loopback only, reproducing
the seed incident: Cloud Run behind a Serverless VPC connector calling ClusterIP Services, a forwarding
zone to the kube-dns ClusterIP, A records holding ClusterIPs. Checks, fixes and undo work on it
exactly as on a real project.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			shared.Demo = true
			shared.DemoLatency = latency
			return runInteractive(cmd.Context(), ios, shared, guided)
		},
	}
	cmd.Flags().BoolVar(&guided, "guided", false, "guided mode: one failure mode at a time")
	cmd.Flags().BoolVar(&shared.OpenTriage, "triage", false, "open the triage screen first")
	cmd.MarkFlagsMutuallyExclusive("guided", "triage")
	cmd.Flags().DurationVar(&latency, "latency", latency, "simulated API latency of the demo world")
	return cmd
}
