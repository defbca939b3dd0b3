package triage

import (
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Hosts are taken only from places that name a host (a URL, curl's "Trying"/"Connected to", Go's
// "lookup X on", Java's UnknownHostException, urllib3's host='X', a DNS question): a traceback is
// full of dotted words (module paths, file names) that are not hosts. The patterns are compiled on
// first use, not at start-up: every start of gkedoctor (even `gkedoctor version`) would pay for them.
type patterns struct {
	reURL, reClusterName, reIPv4, reSA, rePodPath, reHostName *regexp.Regexp
	reHostContexts, reStatus                                  []*regexp.Regexp
}

var pats = sync.OnceValue(func() *patterns {
	return &patterns{
		reURL: regexp.MustCompile(`(?i)\b(?:https?|wss?)://[^\s'"<>\\)\]]+`),
		// Contextual host (and optional port) mentions; group 1 is the host, group 2 the port if any.
		reHostContexts: []*regexp.Regexp{
			regexp.MustCompile(`(?i)\bhost=\\?['"]([^'"\\\s]+)\\?['"](?:,\s*port=(\d+))?`),
			regexp.MustCompile(`(?im)^[<>*]?\s*Host:\s*([^\s:]+)(?::(\d+))?\s*$`),
			regexp.MustCompile(`(?i)Could not resolve host:\s*([^\s;,]+)`),
			regexp.MustCompile(`(?i)Failed to connect to /?([^\s:/]+)(?:(?::| port )(\d+))?`),
			regexp.MustCompile(`(?i)Connected to ([^\s(]+)(?: \([^)]*\))? port (\d+)`),
			regexp.MustCompile(`(?i)\bTrying \[?([0-9a-f.:]+?)\]?(?::(\d+))?(?:\.\.\.|\s|$)`),
			regexp.MustCompile(`(?i)\blookup ([^\s:]+)(?: on \S+)?:`),
			regexp.MustCompile(`(?i)\bdial tcp \[?([0-9a-f.:]+?)\]?:(\d+):`),
			regexp.MustCompile(`(?i)UnknownHostException:\s*([^\s:]+)`),
			regexp.MustCompile(`(?i)Failed to resolve '([^']+)'`),
			regexp.MustCompile(`(?i)getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([^\s]+)`),
			regexp.MustCompile(`(?i)\bConnect to ([^\s:/\[]+):(\d+)`),
			regexp.MustCompile(`(?i)Connection to ([^\s]+?) timed out`),
			regexp.MustCompile(`(?im)^;([a-z0-9.-]+\.)\s+IN\s+A\b`),
		},
		reClusterName: regexp.MustCompile(`(?i)\b(?:[a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+svc\.cluster\.local\b\.?`),
		reIPv4:        regexp.MustCompile(`\b((?:\d{1,3}\.){3}\d{1,3})(?::(\d{1,5})| port (\d{1,5}))?\b`),
		reSA:          regexp.MustCompile(`system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)`),
		rePodPath:     regexp.MustCompile(`/api/v1/namespaces/([a-z0-9-]+)/pods/([a-z0-9][-a-z0-9.]*[a-z0-9])`),
		reStatus: []*regexp.Regexp{
			regexp.MustCompile(`HTTP/[0-9.]+ (\d{3})\b`),
			regexp.MustCompile(`(?i)Handshake status (\d{3})\b`),
			regexp.MustCompile(`ApiException: \((\d{3})\)`),
			regexp.MustCompile(`(?i)\b(?:status(?: code)?|response code|"code")[:=]?\s*(\d{3})\b`),
			regexp.MustCompile(`\b(\d{3}) (?:Unauthorized|Forbidden|Bad Request|Not Found|Switching Protocols|Service Unavailable|Bad Gateway|Gateway Timeout|OK)\b`),
			regexp.MustCompile(`\b(\d{3}) Client Error\b`),
		},
		reHostName: regexp.MustCompile(`(?i)^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z][a-z0-9-]*[a-z0-9]$`),
	}
})

type set struct {
	seen map[string]bool
	list []string
}

func (s *set) add(v string) {
	if v == "" {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[v] {
		s.seen[v] = true
		s.list = append(s.list, v)
	}
}

// Extract finds what text names. The lists keep the order of first mention.
func Extract(text string) Found {
	var urls, hosts, ips, svcs, sas, pods set
	ports := map[int]bool{}
	portOf := map[string]int{}
	codes := map[int]bool{}

	addHost := func(h, port string) {
		h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]'\"")), ".")
		p, _ := strconv.Atoi(port)
		if a, err := netip.ParseAddr(h); err == nil {
			ips.add(a.String())
			if p > 0 && p < 65536 {
				ports[p] = true
				if _, ok := portOf[a.String()]; !ok {
					portOf[a.String()] = p
				}
			}
			return
		}
		if !pats().reHostName.MatchString(h) || len(h) > 253 {
			return
		}
		hosts.add(h)
		if p > 0 && p < 65536 {
			ports[p] = true
		}
	}

	for _, raw := range pats().reURL.FindAllString(text, -1) {
		raw = strings.TrimRight(raw, ".,;:'\"")
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		urls.add(redactURL(u))
		addHost(u.Hostname(), u.Port())
		if m := pats().rePodPath.FindStringSubmatch(u.Path); m != nil {
			pods.add(m[1] + "/" + m[2])
		}
	}
	for _, re := range pats().reHostContexts {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			port := ""
			if len(m) > 2 {
				port = m[2]
			}
			addHost(m[1], port)
		}
	}
	for _, m := range pats().reClusterName.FindAllString(text, -1) {
		addHost(m, "")
	}
	for _, m := range pats().reIPv4.FindAllStringSubmatch(text, -1) {
		a, err := netip.ParseAddr(m[1])
		if err != nil || !a.Is4() {
			continue
		}
		port := m[2]
		if port == "" {
			port = m[3]
		}
		addHost(a.String(), port)
	}
	for _, h := range hosts.list {
		if !IsClusterName(h) {
			continue
		}
		labels := strings.Split(strings.TrimSuffix(h, ".svc.cluster.local"), ".")
		if len(labels) >= 2 {
			svcs.add(labels[len(labels)-1] + "/" + labels[len(labels)-2])
		}
	}
	for _, m := range pats().reSA.FindAllStringSubmatch(text, -1) {
		sas.add(m[1] + "/" + m[3])
	}
	for _, m := range pats().rePodPath.FindAllStringSubmatch(text, -1) {
		pods.add(m[1] + "/" + m[2])
	}
	for _, re := range pats().reStatus {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if c, err := strconv.Atoi(m[1]); err == nil && c >= 100 && c <= 599 {
				codes[c] = true
			}
		}
	}
	f := Found{URLs: urls.list, Hosts: hosts.list, IPs: ips.list, Services: svcs.list,
		ServiceAccounts: sas.list, Pods: pods.list, portOf: portOf}
	f.Ports = sortedInts(ports)
	f.StatusCodes = sortedInts(codes)
	return f
}

// redactURL drops a URL's user information and query (a pasted URL may carry a password or a token
// parameter).
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

func sortedInts(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// AppendMissing appends to to each of vs it does not hold yet, in order: how triage's targets join
// the ones a session already has (the command's flags, the TUI's targets).
func AppendMissing[T comparable](to []T, vs ...T) []T {
	for _, v := range vs {
		if !slices.Contains(to, v) {
			to = append(to, v)
		}
	}
	return to
}
