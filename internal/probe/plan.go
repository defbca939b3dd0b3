package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// PlanSchemaVersion is the version of the probe plan and of the probe result (one number for both:
// a vantage point and the tool that launched it must agree on both shapes).
const PlanSchemaVersion = 1

// ResultKind names the JSON document `gkedoctor probe` prints, so a reader of a log can find it.
const ResultKind = "gkedoctor.ProbeResult"

// The kinds of probe a plan holds.
const (
	KindDNS       = "dns"
	KindTCP       = "tcp"
	KindHTTP      = "http"
	KindWebSocket = "websocket"
)

// MaxPlanProbes bounds a plan: a vantage point runs a handful of probes, never a scan.
const MaxPlanProbes = 64

// MaxPlanBytes bounds a plan read from stdin or a file.
const MaxPlanBytes = 256 << 10

// Plan is what a vantage point runs: a list of probes, in order. The tool writes it (from a check's
// targets), `gkedoctor probe --plan` reads it; it names only targets, never credentials.
type Plan struct {
	SchemaVersion int     `json:"schemaVersion"`
	Probes        []Probe `json:"probes"`
	// TimeoutMillis bounds each probe (0: the defaults, 5 s for DNS and TCP, 10 s for HTTP).
	TimeoutMillis int `json:"timeoutMillis,omitempty"`
}

// Probe is one live test.
type Probe struct {
	Kind string `json:"kind"` // dns, tcp, http, websocket
	// ID is the caller's name for the probe (a check id and target), echoed in the result.
	ID string `json:"id,omitempty"`
	// Name and Type are a DNS probe's question ("development-agent.default.svc.cluster.local", "A").
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	// Resolver is a DNS probe's server (HOST[:PORT]); empty: the vantage point's resolver.
	Resolver string `json:"resolver,omitempty"`
	// Addr is a TCP probe's HOST:PORT.
	Addr string `json:"addr,omitempty"`
	// URL is an HTTP or WebSocket probe's URL (http, https, ws or wss).
	URL string `json:"url,omitempty"`
}

// Vantage is where probes run: its name for the evidence, how it dials, and its resolver.
type Vantage struct {
	Name   string // "this machine", "pod default/gkedoctor-probe-x7k2 on node gke-…"
	Dialer Dialer // nil: net.Dialer
	// DNSDialer carries the DNS probes' queries to Resolver; nil: Dialer. (A simulated network
	// answers DNS on a loopback server of its own while it decides TCP connections itself.)
	DNSDialer   Dialer
	Resolver    string // HOST:PORT; "" when none was found
	ResolverWhy string
}

// Result is one probe's observation, in the shape printed as JSON.
type Result struct {
	Probe
	Outcome    string `json:"outcome"` // answer/nxdomain/servfail/… for DNS; connected/timeout/refused/… for TCP; the status class for HTTP
	OK         bool   `json:"ok"`
	Detail     string `json:"detail"`            // one human line
	Command    string `json:"command,omitempty"` // what a person runs to see the same (dig, nc, curl)
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"durationMs"`
	// DNS facts.
	Server  string   `json:"server,omitempty"`
	Rcode   string   `json:"rcode,omitempty"`
	Answers []string `json:"answers,omitempty"` // "A 10.132.0.6"
	// HTTP and WebSocket facts.
	Status       int    `json:"status,omitempty"`
	Upgraded     bool   `json:"upgraded,omitempty"`
	ServerHeader string `json:"serverHeader,omitempty"`
}

// Report is the whole output of one run of a plan.
type Report struct {
	Kind          string    `json:"kind"`
	SchemaVersion int       `json:"schemaVersion"`
	Vantage       string    `json:"vantage"`
	Hostname      string    `json:"hostname,omitempty"`
	Resolver      string    `json:"resolver,omitempty"`
	ResolverWhy   string    `json:"resolverWhy,omitempty"`
	Started       time.Time `json:"started"`
	Results       []Result  `json:"results"`
}

// ParsePlan reads a plan and validates every probe, so that a bad plan is one clear error before any
// traffic is sent.
func ParsePlan(r io.Reader) (Plan, error) {
	var p Plan
	b, err := io.ReadAll(io.LimitReader(r, MaxPlanBytes+1))
	if err != nil {
		return p, fmt.Errorf("read the probe plan: %w", err)
	}
	if len(b) > MaxPlanBytes {
		return p, fmt.Errorf("the probe plan is larger than %d KiB", MaxPlanBytes>>10)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("the probe plan is not valid JSON: %w", err)
	}
	if p.SchemaVersion != PlanSchemaVersion {
		return p, fmt.Errorf("the probe plan has schemaVersion %d; this gkedoctor reads %d", p.SchemaVersion, PlanSchemaVersion)
	}
	return p, p.Validate()
}

// Validate checks every probe of the plan.
func (p Plan) Validate() error {
	if len(p.Probes) == 0 {
		return errors.New("the probe plan has no probes")
	}
	if len(p.Probes) > MaxPlanProbes {
		return fmt.Errorf("the probe plan has %d probes; at most %d", len(p.Probes), MaxPlanProbes)
	}
	if p.TimeoutMillis < 0 || p.TimeoutMillis > 120_000 {
		return fmt.Errorf("the probe plan's timeoutMillis %d is not between 0 and 120000", p.TimeoutMillis)
	}
	for i, pr := range p.Probes {
		if err := pr.Validate(); err != nil {
			return fmt.Errorf("probe %d: %w", i+1, err)
		}
	}
	return nil
}

// Validate checks one probe's fields for its kind.
func (pr Probe) Validate() error {
	switch pr.Kind {
	case KindDNS:
		if _, err := NormalizeName(pr.Name); err != nil {
			return fmt.Errorf("dns name: %w", err)
		}
		if _, ok := dnsType(pr.Type); !ok {
			return fmt.Errorf("dns type %q: want A, AAAA, CNAME, SRV, TXT, NS, SOA or PTR", pr.Type)
		}
		if pr.Resolver != "" {
			if _, err := ParseServerAddr(pr.Resolver); err != nil {
				return err
			}
		}
	case KindTCP:
		if err := ValidHostPort(pr.Addr); err != nil {
			return fmt.Errorf("tcp address: %w", err)
		}
	case KindHTTP, KindWebSocket:
		u, err := url.Parse(pr.URL)
		if err != nil {
			return fmt.Errorf("%s url: %w", pr.Kind, err)
		}
		okSchemes := map[string]bool{"http": true, "https": true}
		if pr.Kind == KindWebSocket {
			okSchemes = map[string]bool{"ws": true, "wss": true, "http": true, "https": true}
		}
		if !okSchemes[u.Scheme] || u.Host == "" {
			return fmt.Errorf("%s url %q: want an absolute %s URL", pr.Kind, pr.URL, map[bool]string{true: "ws:// or wss://", false: "http:// or https://"}[pr.Kind == KindWebSocket])
		}
		if u.User != nil {
			return fmt.Errorf("%s url: credentials in the URL are not sent by the probe; remove them", pr.Kind)
		}
	case "":
		return errors.New("no kind: want dns, tcp, http or websocket")
	default:
		return fmt.Errorf("unknown kind %q: want dns, tcp, http or websocket", pr.Kind)
	}
	return nil
}

// ValidHostPort checks HOST:PORT with a port from 1 to 65535.
func ValidHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want HOST:PORT", addr)
	}
	if host == "" {
		return fmt.Errorf("%q: no host", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", addr, port)
	}
	return nil
}

func dnsType(s string) (uint16, bool) {
	if s == "" {
		return dns.TypeA, true
	}
	switch strings.ToUpper(s) {
	case "A", "AAAA", "CNAME", "SRV", "TXT", "NS", "SOA", "PTR":
		return dns.StringToType[strings.ToUpper(s)], true
	}
	return 0, false
}

// Run runs the plan from the vantage point, in order, each probe bounded, and returns the report.
// It sends traffic only to the plan's targets and resolvers; it never calls an API.
func Run(ctx context.Context, p Plan, v Vantage) Report {
	rep := Report{Kind: ResultKind, SchemaVersion: PlanSchemaVersion, Vantage: v.Name, Resolver: v.Resolver,
		ResolverWhy: v.ResolverWhy, Started: time.Now().UTC(), Results: []Result{}}
	if h, err := os.Hostname(); err == nil && v.Dialer == nil {
		rep.Hostname = h
	}
	timeout := time.Duration(p.TimeoutMillis) * time.Millisecond
	for _, pr := range p.Probes {
		if ctx.Err() != nil {
			rep.Results = append(rep.Results, Result{Probe: pr, Outcome: "cancelled", Detail: "not run: the probe run was cancelled", Error: ctx.Err().Error()})
			continue
		}
		rep.Results = append(rep.Results, runOne(ctx, pr, v, timeout))
	}
	return rep
}

func runOne(ctx context.Context, pr Probe, v Vantage, timeout time.Duration) Result {
	if err := pr.Validate(); err != nil {
		return Result{Probe: pr, Outcome: "error", Detail: "not run: " + err.Error(), Error: err.Error()}
	}
	if timeout <= 0 {
		timeout = DefaultTCPTimeout
		if pr.Kind == KindHTTP || pr.Kind == KindWebSocket {
			timeout = 10 * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch pr.Kind {
	case KindDNS:
		return runDNS(ctx, pr, v)
	case KindTCP:
		return runTCP(ctx, pr, v)
	default:
		return runHTTP(ctx, pr, v)
	}
}

func runDNS(ctx context.Context, pr Probe, v Vantage) Result {
	server := pr.Resolver
	if server == "" {
		server = v.Resolver
	}
	if server == "" {
		return Result{Probe: pr, Outcome: "error", Detail: "not run: no resolver at this vantage point (" + v.ResolverWhy + ")", Error: "no resolver"}
	}
	qt, _ := dnsType(pr.Type)
	name, _ := NormalizeName(pr.Name)
	d := v.DNSDialer
	if d == nil {
		d = v.Dialer
	}
	r := DNSClient{Dialer: d}.Query(ctx, server, name, qt)
	res := Result{Probe: pr, Outcome: r.Outcome.String(), OK: r.Outcome == OutcomeAnswer, Server: r.Server,
		Rcode: r.RcodeName, Command: r.Dig(), DurationMS: r.Duration.Milliseconds()}
	for _, a := range r.Answers {
		res.Answers = append(res.Answers, a.Type+" "+a.Data)
	}
	switch {
	case r.Err != nil:
		res.Error = r.Err.Error()
		res.Detail = fmt.Sprintf("%s %s via %s: %s", res.Name, r.Type, r.Server, r.Outcome)
	case len(res.Answers) > 0:
		res.Detail = fmt.Sprintf("%s %s via %s: %s", res.Name, r.Type, r.Server, strings.Join(res.Answers, ", "))
	default:
		res.Detail = fmt.Sprintf("%s %s via %s: %s (%s)", res.Name, r.Type, r.Server, r.RcodeName, r.Symptom())
	}
	return res
}

func runTCP(ctx context.Context, pr Probe, v Vantage) Result {
	r := TCP(ctx, v.Dialer, pr.Addr)
	res := Result{Probe: pr, Outcome: string(r.Outcome), OK: r.OK, Command: r.Command(), DurationMS: r.Duration.Milliseconds()}
	if r.Err != nil {
		res.Error = r.Err.Error()
	}
	res.Detail = fmt.Sprintf("TCP connect %s: %s after %s", pr.Addr, r.Outcome, r.Duration.Round(time.Millisecond))
	var dnsErr *net.DNSError
	if errors.As(r.Err, &dnsErr) {
		// The name did not resolve here: nothing was dialled.
		res.Outcome = "no-address"
		res.Detail = fmt.Sprintf("TCP connect %s: the name does not resolve from here (%s), so nothing was dialled", pr.Addr, dnsErr.Err)
	}
	return res
}

// runHTTP sends one GET (or one WebSocket upgrade) through the vantage point's dialer. Redirects are
// not followed: where the first answer comes from is the fact.
func runHTTP(ctx context.Context, pr Probe, v Vantage) Result {
	u, _ := url.Parse(pr.URL)
	ws := pr.Kind == KindWebSocket
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	d := v.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	tr := &http.Transport{DialContext: d.DialContext, ForceAttemptHTTP2: !ws, DisableKeepAlives: true,
		TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	start := time.Now()
	res := Result{Probe: pr}
	if ws {
		h := WebSocketHandshake(ctx, tr, HandshakeRequest{Base: u.Scheme + "://" + u.Host, Path: u.EscapedPath(), Query: u.Query()})
		res.DurationMS = time.Since(start).Milliseconds()
		res.Status, res.Upgraded, res.ServerHeader, res.OK = h.Code, h.Upgraded(), h.Server, h.Upgraded()
		res.Command = fmt.Sprintf("curl -sv --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==' %s", shellQuote(u.String()))
		if h.Err != nil {
			res.Outcome, res.Error = "error", h.Err.Error()
			res.Detail = fmt.Sprintf("WebSocket handshake %s: %v", pr.URL, h.Err)
			return res
		}
		res.Outcome = statusClass(h.Code)
		if h.Upgraded() {
			res.Outcome = "upgraded"
		}
		res.Detail = fmt.Sprintf("WebSocket handshake %s: %s", pr.URL, h.Describe())
		return res
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{Probe: pr, Outcome: "error", Error: err.Error(), Detail: "not run: " + err.Error()}
	}
	req.Header.Set("User-Agent", "gkedoctor-probe")
	res.Command = "curl -sv " + shellQuote(u.String())
	resp, err := tr.RoundTrip(req)
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		res.Outcome, res.Error = string(classifyDialErr(ctx, err)), err.Error()
		res.Detail = fmt.Sprintf("GET %s: %v", pr.URL, err)
		return res
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	res.Status, res.ServerHeader = resp.StatusCode, resp.Header.Get("Server")
	res.Outcome = statusClass(resp.StatusCode)
	res.OK = resp.StatusCode < 500
	res.Detail = fmt.Sprintf("GET %s: %s", pr.URL, resp.Status)
	return res
}

func statusClass(code int) string {
	switch {
	case code == 0:
		return "error"
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}
