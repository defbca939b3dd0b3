// Package triage maps an error text a person pastes (a traceback, a log excerpt, curl -v output) to
// the failure modes whose error signatures it carries, and extracts the targets it names (hosts,
// addresses, ports, Services, ServiceAccounts, pods, HTTP status codes), so that exactly the checks
// that fit can run with those targets filled in. The signatures live in the catalogue
// (checks/catalogue.yaml, `signatures:`); this package only reads them. It never guesses: a text that
// carries no signature is reported as unrecognised.
package triage

import (
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// MaxInput bounds the text analysed: a pasted log is rarely longer, and the regular expressions stay
// linear in it anyway.
const MaxInput = 1 << 20

// GKEServicesRange is GKE's default services range: an address in it is, with high likelihood, a
// ClusterIP (the checks read the cluster's real range).
var GKEServicesRange = netip.MustParsePrefix("34.118.224.0/20")

// Cause is one cause a matched signature points at.
type Cause struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Match is one signature found in the text.
type Match struct {
	Check       string  `json:"check"`
	Title       string  `json:"title"`
	FailureMode string  `json:"failureMode"`
	Signature   string  `json:"matchedBy"`
	Quote       string  `json:"quote"` // the matched text, redacted, on one line
	Why         string  `json:"why"`
	Causes      []Cause `json:"causes"`
}

// Found is what the text names.
type Found struct {
	URLs            []string `json:"urls,omitempty"`
	Hosts           []string `json:"hosts,omitempty"`
	IPs             []string `json:"ips,omitempty"`
	Ports           []int    `json:"ports,omitempty"`
	Services        []string `json:"services,omitempty"`        // NS/NAME, from NAME.NS.svc.cluster.local
	ServiceAccounts []string `json:"serviceAccounts,omitempty"` // NS/NAME, from system:serviceaccount:NS:NAME
	Pods            []string `json:"pods,omitempty"`            // NS/NAME, from API paths
	StatusCodes     []int    `json:"statusCodes,omitempty"`

	portOf map[string]int // an address's first port
}

// Targets are the extracted targets, as the flags audit takes.
type Targets struct {
	Services []string `json:"services,omitempty"` // --service NS/NAME
	DNSNames []string `json:"dnsNames,omitempty"` // --dns-name FQDN
	Peers    []string `json:"peers,omitempty"`    // --peer IP[:PORT]
	Workload string   `json:"workload,omitempty"` // --workload pod/NS/NAME
}

// Flags renders the targets as command-line flags, in a stable order.
func (t Targets) Flags() []string {
	var out []string
	for _, s := range t.Services {
		out = append(out, "--service", s)
	}
	for _, s := range t.DNSNames {
		out = append(out, "--dns-name", s)
	}
	for _, s := range t.Peers {
		out = append(out, "--peer", s)
	}
	if t.Workload != "" {
		out = append(out, "--workload", t.Workload)
	}
	return out
}

// Empty reports whether no target was extracted.
func (t Targets) Empty() bool { return len(t.Flags()) == 0 }

// Result is the whole triage of one text.
type Result struct {
	Matches []Match `json:"matches"`
	Found   Found   `json:"extracted"`
	// Checks are the catalogue ids to run, in catalogue order.
	Checks  []string `json:"checks"`
	Targets Targets  `json:"targets"`
}

// Recognised reports whether any signature matched.
func (r Result) Recognised() bool { return len(r.Matches) > 0 }

type compiled struct {
	info   checks.Info
	sig    checks.Signature
	re     *regexp.Regexp
	unless *regexp.Regexp
}

var (
	compileMu    sync.Mutex
	compileCache = map[string][]compiled{}
)

// compile compiles every signature of cat once per distinct catalogue (keyed by its ids).
func compile(cat []checks.Info) []compiled {
	var key strings.Builder
	for _, i := range cat {
		key.WriteString(i.ID)
		key.WriteByte(0)
		for _, s := range i.Signatures {
			key.WriteString(s.ID + "\x01" + s.Match + "\x01" + s.Unless + "\x00")
		}
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	if c, ok := compileCache[key.String()]; ok {
		return c
	}
	var out []compiled
	for _, i := range cat {
		for _, s := range i.Signatures {
			re, err := checks.CompileSignature(s)
			if err != nil {
				continue // the catalogue's loader refuses it; a test-built catalogue may not
			}
			c := compiled{info: i, sig: s, re: re}
			if s.Unless != "" {
				if u, err := regexp.Compile("(?i)" + s.Unless); err == nil {
					c.unless = u
				}
			}
			out = append(out, c)
		}
	}
	compileCache[key.String()] = out
	return out
}

// Analyze triages text against the catalogue cat (checks.Catalogue() in production).
func Analyze(text string, cat []checks.Info) Result {
	if len(text) > MaxInput {
		text = text[:MaxInput]
	}
	found := Extract(text)
	cond := conditionsOf(found)
	var res Result
	res.Found = found
	matchedEntry := map[string]bool{}
	var fallbacks []compiled
	for _, c := range compile(cat) {
		if c.sig.Fallback {
			fallbacks = append(fallbacks, c)
			continue
		}
		if m, ok := try(c, text, cond); ok {
			res.Matches = append(res.Matches, m)
			matchedEntry[c.info.ID] = true
		}
	}
	for _, c := range fallbacks {
		if matchedEntry[c.info.ID] {
			continue
		}
		if m, ok := try(c, text, cond); ok {
			res.Matches = append(res.Matches, m)
		}
	}
	// Matches and checks in catalogue order.
	order := map[string]int{}
	for n, i := range cat {
		order[i.ID] = n
	}
	sort.SliceStable(res.Matches, func(a, b int) bool { return order[res.Matches[a].Check] < order[res.Matches[b].Check] })
	seen := map[string]bool{}
	for _, m := range res.Matches {
		if !seen[m.Check] {
			seen[m.Check] = true
			res.Checks = append(res.Checks, m.Check)
		}
	}
	res.Targets = targetsFor(found, res.Checks)
	return res
}

func try(c compiled, text string, cond map[string]bool) (Match, bool) {
	if c.sig.When != "" && !cond[c.sig.When] {
		return Match{}, false
	}
	loc := c.re.FindStringIndex(text)
	if loc == nil {
		return Match{}, false
	}
	if c.unless != nil && c.unless.MatchString(text) {
		return Match{}, false
	}
	m := Match{
		Check: c.info.ID, Title: c.info.Title, FailureMode: c.info.FailureMode,
		Signature: c.sig.ID, Why: c.sig.Why, Quote: quote(text, loc[0], loc[1]),
	}
	for _, id := range c.sig.Causes {
		m.Causes = append(m.Causes, Cause{ID: id, Title: causeTitle(c.info, id)})
	}
	return m, true
}

func causeTitle(info checks.Info, id string) string {
	for _, c := range info.Causes {
		if c.ID == id {
			return c.Title
		}
	}
	if _, c, ok := checks.CauseFor(info.ID + "/" + id); ok {
		return c.Title
	}
	return ""
}

// quote returns the line holding text[start:end], cut to about 160 characters around the match,
// sanitised and redacted (a pasted log may carry a bearer token).
func quote(text string, start, end int) string {
	ls := strings.LastIndexByte(text[:start], '\n') + 1
	le := strings.IndexByte(text[end:], '\n')
	if le < 0 {
		le = len(text)
	} else {
		le += end
	}
	if end > le { // a match across lines: quote from its start to the end of its first line
		end = le
	}
	const room = 60
	from, to := ls, le
	prefix, suffix := "", ""
	if start-from > room {
		from, prefix = start-room, "…"
	}
	if to-end > room {
		to, suffix = end+room, "…"
	}
	for from > ls && !utf8Start(text[from]) {
		from--
	}
	for to < le && !utf8Start(text[to]) {
		to++
	}
	return safeout.Line(prefix + strings.TrimSpace(text[from:to]) + suffix)
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// conditionsOf evaluates the signatures' When conditions over what the text names.
func conditionsOf(f Found) map[string]bool {
	c := map[string]bool{}
	for _, h := range f.Hosts {
		if IsClusterName(h) {
			c[checks.SignatureWhenClusterIP] = true
		} else {
			c[checks.SignatureWhenNamedHost] = true
		}
	}
	var other, private bool
	for _, s := range f.IPs {
		a, err := netip.ParseAddr(s)
		if err != nil || f.portOf[s] == 53 {
			continue // a resolver's address is not where the client connects
		}
		switch {
		case GKEServicesRange.Contains(a):
			c[checks.SignatureWhenClusterIP] = true
		case a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified():
		default:
			other = true
			private = private || a.IsPrivate()
		}
	}
	if !c[checks.SignatureWhenClusterIP] {
		c[checks.SignatureWhenOtherAddress] = other
		c[checks.SignatureWhenPrivateAddress] = private
	}
	return c
}

// IsClusterName reports whether h is a name of the cluster's DNS (… .svc.cluster.local).
func IsClusterName(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return strings.HasSuffix(h, ".svc.cluster.local")
}

// targetsFor turns what was found into the flags the chosen checks read.
func targetsFor(f Found, ids []string) Targets {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var t Targets
	if want["clusterip-unreachable"] || want["dns-servfail"] || want["dns-stale-record"] {
		t.Services = f.Services
	}
	if want["dns-servfail"] || want["dns-stale-record"] {
		for _, h := range f.Hosts {
			if _, err := netip.ParseAddr(h); err != nil {
				t.DNSNames = append(t.DNSNames, h)
			}
		}
	}
	if want["pod-egress-cross-project"] {
		for _, s := range f.IPs {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.IsPrivate() || GKEServicesRange.Contains(a) {
				continue
			}
			peer := s
			if p, ok := f.portOf[s]; ok {
				peer = s + ":" + strconv.Itoa(p)
			}
			if _, err := checks.ParsePeer(peer); err == nil {
				t.Peers = append(t.Peers, peer)
			}
		}
	}
	if (want["sa-token-401"] || want["websocket-handshake"]) && len(f.Pods) == 1 {
		t.Workload = "pod/" + f.Pods[0]
	}
	return t
}
