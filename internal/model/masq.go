package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// ip-masq-agent (kubernetes-sigs/ip-masq-agent; FAILURE-MODES §6): it SNATs a pod's packet to the
// node's IP unless the destination is in its non-masquerade set. The set is nonMasqueradeCIDRs of the
// configuration file (the kube-system/ip-masq-agent ConfigMap's "config" key, YAML or JSON), or the
// defaults when the file or the key is absent: RFC 1918 only, or the full reserved list with
// --nomasq-all-reserved-ranges (as GKE runs it). Link-local 169.254.0.0/16 is not masqueraded unless
// masqLinkLocal. Without the DaemonSet GKE applies the same defaults, or no SNAT at all when the
// cluster was created with --disable-default-snat.

// MasqNamespace and MasqName name the DaemonSet and the ConfigMap; MasqConfigKey is the ConfigMap key
// the agent reads (mounted as /etc/config/ip-masq-agent).
const (
	MasqNamespace = "kube-system"
	MasqName      = "ip-masq-agent"
	MasqConfigKey = "config"
	// MasqAllReservedFlag makes the agent's default set the full reserved list.
	MasqAllReservedFlag = "--nomasq-all-reserved-ranges"
	// MasqCidrLimit is the default limit on nonMasqueradeCIDRs.
	MasqCidrLimit = 64
)

var (
	rfc1918 = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
	// allReserved is the agent's default set with --nomasq-all-reserved-ranges.
	allReserved = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
		"192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4"}
	linkLocal = netip.MustParsePrefix("169.254.0.0/16")
)

// DefaultNonMasq returns the agent's default non-masquerade set: the full reserved list when it runs
// with --nomasq-all-reserved-ranges, else RFC 1918.
func DefaultNonMasq(allReservedRanges bool) []netip.Prefix {
	src := rfc1918
	if allReservedRanges {
		src = allReserved
	}
	out := make([]netip.Prefix, len(src))
	for i, s := range src {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// MasqConfig is a parsed ip-masq-agent configuration file.
type MasqConfig struct {
	// NonMasqueradeCIDRs is the list the file gives; NonMasqSet says the key was there (an absent key
	// leaves the defaults in place, an empty list masquerades everything).
	NonMasqueradeCIDRs []netip.Prefix
	NonMasqSet         bool
	MasqLinkLocal      bool
	MasqLinkLocalIPv6  bool
	ResyncInterval     time.Duration // 0: the default, 60 s
	CidrLimit          int
	// Ignored are keys the agent does not know (a misspelt key is silently ignored by it).
	Ignored []string
}

// MasqParseError is a configuration the agent rejects, with the line of the file it is about (0 when
// unknown). The agent logs it and keeps its last good configuration (the defaults on a new node).
type MasqParseError struct {
	Line int
	Msg  string
}

func (e *MasqParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:yaml: )?line (\d+): (.*)$`) })

// masqKeys are the configuration keys the agent reads; encoding/json matches them case-insensitively,
// as the agent (which unmarshals with it) does.
var masqKeys = []string{"nonMasqueradeCIDRs", "masqLinkLocal", "masqLinkLocalIPv6", "resyncInterval", "cidrLimit"}

// ParseMasqConfig parses and validates an ip-masq-agent configuration as the agent does (YAML or
// JSON). An empty file is the defaults. Errors are *MasqParseError with the line when it can be found.
func ParseMasqConfig(raw string) (MasqConfig, error) {
	cfg := MasqConfig{CidrLimit: MasqCidrLimit}
	if strings.TrimSpace(raw) == "" {
		return cfg, nil
	}
	js, err := yaml.YAMLToJSON([]byte(raw))
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		if m := yamlLineRE().FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return MasqConfig{}, &MasqParseError{Line: n, Msg: strings.TrimPrefix(m[2], "yaml: ")}
		}
		return MasqConfig{}, &MasqParseError{Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return cfg, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return MasqConfig{}, &MasqParseError{Line: 1, Msg: "the configuration is not a map of keys (nonMasqueradeCIDRs, masqLinkLocal, resyncInterval)"}
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := top[k]
		known := ""
		for _, mk := range masqKeys {
			if strings.EqualFold(k, mk) {
				known = mk
			}
		}
		bad := func(format string, args ...any) error {
			return &MasqParseError{Line: lineOf(raw, k), Msg: fmt.Sprintf(format, args...)}
		}
		switch known {
		case "":
			cfg.Ignored = append(cfg.Ignored, k)
		case "nonMasqueradeCIDRs":
			var list []string
			if string(v) != "null" {
				if err := json.Unmarshal(v, &list); err != nil {
					return MasqConfig{}, bad("%s must be a list of CIDRs", k)
				}
			}
			cfg.NonMasqSet = true
			cfg.NonMasqueradeCIDRs = nil
			for _, c := range list {
				p, err := netip.ParsePrefix(strings.TrimSpace(c))
				if err != nil {
					return MasqConfig{}, &MasqParseError{Line: lineOf(raw, c), Msg: fmt.Sprintf("CIDR %q could not be parsed", c)}
				}
				cfg.NonMasqueradeCIDRs = append(cfg.NonMasqueradeCIDRs, p.Masked())
			}
		case "masqLinkLocal", "masqLinkLocalIPv6":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return MasqConfig{}, bad("%s must be true or false, not %s", k, v)
			}
			if known == "masqLinkLocal" {
				cfg.MasqLinkLocal = b
			} else {
				cfg.MasqLinkLocalIPv6 = b
			}
		case "resyncInterval":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return MasqConfig{}, bad("%s must be a duration such as 60s, not %s", k, v)
			}
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				return MasqConfig{}, bad("%s %q is not a duration such as 60s", k, s)
			}
			cfg.ResyncInterval = d
		case "cidrLimit":
			var n int
			if err := json.Unmarshal(v, &n); err != nil || n < 0 {
				return MasqConfig{}, bad("%s must be a non-negative number, not %s", k, v)
			}
			cfg.CidrLimit = n
		}
	}
	if cfg.CidrLimit == 0 {
		cfg.CidrLimit = MasqCidrLimit
	}
	if len(cfg.NonMasqueradeCIDRs) > cfg.CidrLimit {
		return MasqConfig{}, &MasqParseError{Line: lineOf(raw, "nonMasqueradeCIDRs"),
			Msg: fmt.Sprintf("%d nonMasqueradeCIDRs exceed the limit of %d (cidrLimit)", len(cfg.NonMasqueradeCIDRs), cfg.CidrLimit)}
	}
	return cfg, nil
}

// lineOf is the first line (1-based) of raw that contains needle, case-insensitively; 0 when none.
func lineOf(raw, needle string) int {
	if needle == "" {
		return 0
	}
	n := strings.ToLower(needle)
	for i, l := range strings.Split(raw, "\n") {
		if strings.Contains(strings.ToLower(l), n) {
			return i + 1
		}
	}
	return 0
}

// Resync is the configured resync interval, 60 s by default.
func (c MasqConfig) Resync() time.Duration {
	if c.ResyncInterval > 0 {
		return c.ResyncInterval
	}
	return 60 * time.Second
}

// YAML renders a configuration as the agent reads it (the fix's ConfigMap).
func (c MasqConfig) YAML() string {
	var b strings.Builder
	b.WriteString("nonMasqueradeCIDRs:\n")
	for _, p := range c.NonMasqueradeCIDRs {
		b.WriteString("  - " + p.String() + "\n")
	}
	fmt.Fprintf(&b, "masqLinkLocal: %t\n", c.MasqLinkLocal)
	if c.MasqLinkLocalIPv6 {
		b.WriteString("masqLinkLocalIPv6: true\n")
	}
	if c.CidrLimit != 0 && c.CidrLimit != MasqCidrLimit {
		fmt.Fprintf(&b, "cidrLimit: %d\n", c.CidrLimit)
	}
	fmt.Fprintf(&b, "resyncInterval: %s\n", shortDuration(c.Resync()))
	return b.String()
}

func shortDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// IPMasq is what decides the source of a pod's packets leaving its node: ip-masq-agent's DaemonSet
// and ConfigMap, and the cluster's default SNAT. The Err fields say what could not be read.
type IPMasq struct {
	DaemonSet    bool
	DaemonSetErr error
	// AllReserved: the agent runs with --nomasq-all-reserved-ranges (its defaults are the full
	// reserved list); without the DaemonSet GKE's defaults are that list too.
	AllReserved bool
	Args        []string // the agent container's arguments

	ConfigMap    bool
	ConfigMapErr error
	Keys         []string // the ConfigMap's data keys, sorted
	HasConfig    bool     // the "config" key is there
	Raw          string   // its value
	Config       MasqConfig
	ParseErr     error // a *MasqParseError: the agent keeps its last good configuration

	// SNATDisabled is the cluster's defaultSnatStatus.disabled; SNATKnown says the cluster was read.
	SNATDisabled bool
	SNATKnown    bool
}

// MasqDecision says whether a pod's packet to a destination keeps the pod IP, and why.
type MasqDecision struct {
	// Known is false when the facts that decide it could not be read (or the configuration does
	// not parse: the agent keeps a configuration gkedoctor cannot see).
	Known bool
	// KeepsPodIP: the packet leaves with the pod IP (for all of the destination, or for part of it
	// when Partial).
	KeepsPodIP bool
	Partial    bool
	// NonMasq is the non-masquerade set in effect (nil with no SNAT at all).
	NonMasq []netip.Prefix
	// NoSNAT: nothing SNATs pods' packets (no DaemonSet, default SNAT disabled).
	NoSNAT bool
	// Covering is the entry of NonMasq that keeps the pod IP for the destination.
	Covering netip.Prefix
	// Why explains the decision in words.
	Why string
	// IfDefaults is the decision under the defaults when !Known because the configuration does not
	// parse (what a new node does).
	IfDefaults *MasqDecision
}

// Effective returns the non-masquerade set in effect and where it comes from; ok is false when it
// cannot be known (an unreadable DaemonSet or ConfigMap, a configuration that does not parse).
// noSNAT is true when nothing masquerades.
func (m *IPMasq) Effective() (set []netip.Prefix, from string, noSNAT, ok bool) {
	switch {
	case m.DaemonSetErr != nil:
		return nil, "", false, false
	case !m.DaemonSet && m.SNATKnown && m.SNATDisabled:
		return nil, "no ip-masq-agent DaemonSet and the cluster's default SNAT is disabled (--disable-default-snat): nothing masquerades", true, true
	case !m.DaemonSet:
		from = "no ip-masq-agent DaemonSet: GKE's default non-masquerade destinations"
		if !m.SNATKnown {
			from += " (assuming default SNAT is on: the cluster could not be read)"
		}
		return withLinkLocal(DefaultNonMasq(true), false), from, false, true
	case m.ConfigMapErr != nil:
		return nil, "", false, false
	case !m.ConfigMap || !m.HasConfig:
		from = "ip-masq-agent defaults (" + m.defaultsName() + ")"
		switch {
		case !m.ConfigMap:
			from += ": no kube-system/ip-masq-agent ConfigMap"
		default:
			from += fmt.Sprintf(": the ConfigMap has no %q key (it has %s), and the agent reads only %q", MasqConfigKey, strings.Join(m.Keys, ", "), MasqConfigKey)
		}
		return withLinkLocal(DefaultNonMasq(m.AllReserved), false), from, false, true
	case m.ParseErr != nil:
		return nil, "", false, false
	case !m.Config.NonMasqSet:
		return withLinkLocal(DefaultNonMasq(m.AllReserved), m.Config.MasqLinkLocal), "ip-masq-agent ConfigMap without nonMasqueradeCIDRs: the agent's defaults (" + m.defaultsName() + ")", false, true
	}
	return withLinkLocal(m.Config.NonMasqueradeCIDRs, m.Config.MasqLinkLocal), "the ip-masq-agent ConfigMap's nonMasqueradeCIDRs", false, true
}

func (m *IPMasq) defaultsName() string {
	if m.AllReserved {
		return "the reserved ranges, as with " + MasqAllReservedFlag
	}
	return "RFC 1918"
}

func withLinkLocal(set []netip.Prefix, masqLinkLocal bool) []netip.Prefix {
	out := slices.Clone(set)
	if !masqLinkLocal {
		out = append(out, linkLocal)
	}
	return out
}

// Decide says whether a pod's packet to dst keeps the pod IP.
func (m *IPMasq) Decide(dst netip.Prefix) MasqDecision {
	set, from, noSNAT, ok := m.Effective()
	if !ok {
		d := MasqDecision{Why: m.unknownWhy()}
		if m.ParseErr != nil {
			alt := *m
			alt.ParseErr, alt.HasConfig = nil, false
			def := alt.Decide(dst)
			d.IfDefaults = &def
		}
		return d
	}
	d := MasqDecision{Known: true, NonMasq: set, NoSNAT: noSNAT}
	if noSNAT {
		d.KeepsPodIP, d.Why = true, from
		return d
	}
	rest := Subtract([]netip.Prefix{dst.Masked()}, set)
	for _, p := range set {
		if p.Overlaps(dst) && (!d.Covering.IsValid() || p.Bits() < d.Covering.Bits()) {
			d.Covering = p
		}
	}
	switch {
	case len(rest) == 0:
		d.KeepsPodIP = true
		d.Why = fmt.Sprintf("%s is in the non-masquerade set (%s, from %s): pods' packets keep their pod IP", dst, d.Covering, from)
	case d.Covering.IsValid():
		d.KeepsPodIP, d.Partial = true, true
		d.Why = fmt.Sprintf("part of %s is in the non-masquerade set (%s, from %s): packets to it keep the pod IP, to the rest the node IP", dst, d.Covering, from)
	default:
		d.Why = fmt.Sprintf("%s is outside the non-masquerade set (from %s): pods' packets leave with the node IP", dst, from)
	}
	return d
}

func (m *IPMasq) unknownWhy() string {
	switch {
	case m.DaemonSetErr != nil:
		return "whether ip-masq-agent runs could not be read: " + m.DaemonSetErr.Error()
	case m.ConfigMapErr != nil:
		return "the ip-masq-agent ConfigMap could not be read: " + m.ConfigMapErr.Error()
	case m.ParseErr != nil:
		return fmt.Sprintf("the kube-system/ip-masq-agent ConfigMap's %q does not parse (%v): the agent ignores it and keeps its last good configuration (the defaults on a node that never loaded one)", MasqConfigKey, m.ParseErr)
	}
	return "unknown"
}

// IPMasqFor reads the ip-masq-agent facts of the run's cluster: the DaemonSet and ConfigMap
// kube-system/ip-masq-agent (absent is a fact, not an error) and the cluster's default SNAT (c may be
// nil when the cluster could not be read).
func IPMasqFor(ctx context.Context, inv *inventory.Inventory, c *Cluster) *IPMasq {
	m := &IPMasq{}
	if c != nil {
		m.SNATDisabled, m.SNATKnown = c.DefaultSNATDisabled, true
	}
	ds, err := inv.DaemonSet(ctx, MasqNamespace, MasqName)
	switch {
	case apierr.KindOf(err) == apierr.NotFound:
	case err != nil:
		m.DaemonSetErr = err
	default:
		m.DaemonSet = true
		for _, ct := range ds.Spec.Template.Spec.Containers {
			if ct.Name != MasqName && len(ds.Spec.Template.Spec.Containers) > 1 {
				continue
			}
			m.Args = append(append(m.Args, ct.Command...), ct.Args...)
		}
		for _, a := range m.Args {
			if a == MasqAllReservedFlag || strings.HasPrefix(a, MasqAllReservedFlag+"=true") {
				m.AllReserved = true
			}
		}
	}
	if m.DaemonSetErr != nil || !m.DaemonSet {
		// Without the agent its ConfigMap does nothing; it is still read for the evidence.
		cm, err := inv.ConfigMap(ctx, MasqNamespace, MasqName)
		switch {
		case err == nil:
			m.fromConfigMap(cm.Data)
		case apierr.KindOf(err) != apierr.NotFound:
			m.ConfigMapErr = err
		}
		return m
	}
	cm, err := inv.ConfigMap(ctx, MasqNamespace, MasqName)
	switch {
	case apierr.KindOf(err) == apierr.NotFound:
	case err != nil:
		m.ConfigMapErr = err
	default:
		m.fromConfigMap(cm.Data)
	}
	return m
}

func (m *IPMasq) fromConfigMap(data map[string]string) {
	m.ConfigMap = true
	for k := range data {
		m.Keys = append(m.Keys, k)
	}
	sort.Strings(m.Keys)
	m.Raw, m.HasConfig = data[MasqConfigKey]
	if m.HasConfig {
		m.Config, m.ParseErr = ParseMasqConfig(m.Raw)
	}
}
