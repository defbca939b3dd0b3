package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// probeOptions is `gkedoctor probe`: the live probes, run where the command is started, for the
// targets given. It is what every vantage point (a pod, a Cloud Run job) runs; it calls no API and
// writes nothing.
type probeOptions struct {
	App        *app.Options
	DNS        []string
	DNSType    string
	TCP        []string
	HTTP       []string
	WebSockets []string
	PlanFile   string
	PlanJSON   string
	Vantage    string

	plan probe.Plan
}

func newProbeCmd(ios *iostreams.IOStreams, opts *app.Options) *cobra.Command {
	o := &probeOptions{App: opts}
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Run live DNS, TCP, HTTP and WebSocket probes from here and print one JSON result",
		Long: `probe runs live probes from the machine (or pod, or Cloud Run job) it is started on, and prints
one JSON document (kind gkedoctor.ProbeResult, schemaVersion 1) with what each probe observed. It calls
no Google or Kubernetes API and writes nothing; it is what "gkedoctor check --from cluster|cloud-run"
runs at the vantage point. Targets come from flags or from a JSON plan (--plan FILE, or --plan - for
stdin). Exit 0 when every probe succeeded, 1 when one did not, 2 on bad input.`,
		Example: `  gkedoctor probe --dns development-agent.default.svc.cluster.local --tcp 10.132.0.6:80
  gkedoctor probe --resolver 169.254.169.254 --dns orchestrai.internal.example.
  echo '{"schemaVersion":1,"probes":[{"kind":"tcp","addr":"10.132.0.6:80"}]}' | gkedoctor probe --plan -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(ios); err != nil {
				return err
			}
			return o.run(cmd.Context(), ios)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.DNS, "dns", nil, "a DNS name to resolve (repeatable)")
	f.StringVar(&o.DNSType, "dns-type", "A", "the record type the --dns probes ask for")
	f.StringArrayVar(&o.TCP, "tcp", nil, "a HOST:PORT to connect to (repeatable)")
	f.StringArrayVar(&o.HTTP, "http", nil, "an http(s) URL to GET, redirects not followed (repeatable)")
	f.StringArrayVar(&o.WebSockets, "websocket", nil, "a ws(s) URL to send one WebSocket handshake to (repeatable)")
	f.StringVar(&o.PlanFile, "plan", "", "a JSON probe plan, FILE or - for stdin (instead of the target flags)")
	f.StringVar(&o.PlanJSON, "plan-json", "", "a JSON probe plan given inline (what the vantage points' pods and jobs are started with)")
	f.StringVar(&o.Vantage, "vantage", "", "the name of this vantage point in the result (default: this machine's hostname)")
	return cmd
}

func (o *probeOptions) complete(ios *iostreams.IOStreams) error {
	flags := len(o.DNS) + len(o.TCP) + len(o.HTTP) + len(o.WebSockets)
	if o.PlanJSON != "" {
		if o.PlanFile != "" || flags > 0 {
			return usageErrorf("--plan-json cannot be combined with --plan or the target flags")
		}
		p, err := probe.ParsePlan(strings.NewReader(o.PlanJSON))
		if err != nil {
			return usageErrorf("--plan-json: %v", err)
		}
		o.plan = p
		return nil
	}
	switch {
	case o.PlanFile != "" && flags > 0:
		return usageErrorf("--plan and the target flags (--dns, --tcp, --http, --websocket) cannot be combined")
	case o.PlanFile == "" && flags == 0:
		return usageErrorf("nothing to probe: give --dns, --tcp, --http, --websocket or --plan (see gkedoctor probe --help)")
	case o.PlanFile != "":
		var r io.Reader = ios.In
		if o.PlanFile != "-" {
			f, err := os.Open(o.PlanFile)
			if err != nil {
				return usageErrorf("--plan: %v", err)
			}
			defer f.Close()
			if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
				return usageErrorf("--plan %s: not a regular file", o.PlanFile)
			}
			r = f
		}
		p, err := probe.ParsePlan(r)
		if err != nil {
			return usageErrorf("--plan: %v", err)
		}
		o.plan = p
	default:
		p := probe.Plan{SchemaVersion: probe.PlanSchemaVersion}
		for _, n := range o.DNS {
			p.Probes = append(p.Probes, probe.Probe{Kind: probe.KindDNS, Name: n, Type: strings.ToUpper(o.DNSType)})
		}
		for _, a := range o.TCP {
			p.Probes = append(p.Probes, probe.Probe{Kind: probe.KindTCP, Addr: a})
		}
		for _, u := range o.HTTP {
			p.Probes = append(p.Probes, probe.Probe{Kind: probe.KindHTTP, URL: u})
		}
		for _, u := range o.WebSockets {
			p.Probes = append(p.Probes, probe.Probe{Kind: probe.KindWebSocket, URL: u})
		}
		if err := p.Validate(); err != nil {
			flag := map[string]string{probe.KindDNS: "--dns", probe.KindTCP: "--tcp", probe.KindHTTP: "--http", probe.KindWebSocket: "--websocket"}
			for _, pr := range p.Probes {
				if e := pr.Validate(); e != nil {
					return usageErrorf("%s: %v", flag[pr.Kind], e)
				}
			}
			return usageErrorf("%v", err)
		}
		o.plan = p
	}
	return nil
}

func (o *probeOptions) run(ctx context.Context, ios *iostreams.IOStreams) error {
	if o.App.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.App.Timeout)
		defer cancel()
	}
	v := probe.Vantage{Name: o.Vantage}
	if v.Name == "" {
		v.Name = "this machine"
		if h, err := os.Hostname(); err == nil {
			v.Name = "host " + h
		}
	}
	if r, err := probe.ChooseResolver(o.App.Resolver, probe.HostEnvironment{}); err == nil {
		v.Resolver, v.ResolverWhy = r.Addr, r.Why
	} else {
		v.ResolverWhy = err.Error()
	}
	rep := probe.Run(ctx, o.plan, v)
	enc := json.NewEncoder(ios.Out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write the probe result: %w", err)
	}
	for _, r := range rep.Results {
		if !r.OK {
			return &silentExit{code: ExitFindings}
		}
	}
	return nil
}
