package fakegcp

import (
	"net/url"
	"strings"
)

// route is one API method: an HTTP method and a path pattern of segments. A segment is a literal,
// "{var}" (any non-empty segment), or "{var}:verb" (a segment ending in ":verb", as in
// "{project}:getIamPolicy"). Segments are matched after percent-decoding, so record set names with
// dots, or escaped characters such as %2A for "*", arrive intact.
type route struct {
	method string
	segs   []string
	api    string
	h      func(*call) (any, *apiError)
}

func r(api, method, pattern string, h func(*call) (any, *apiError)) route {
	return route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), api: api, h: h}
}

// splitPath splits an escaped URL path into decoded segments.
func splitPath(escaped string) ([]string, bool) {
	escaped = strings.TrimPrefix(escaped, "/")
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = d
	}
	return parts, true
}

// match finds the route for method and path. found reports a route matched the path with another
// method. The most specific pattern wins (literal and verb segments count), so "ops/{op}:wait" beats
// "ops/{op}" for a segment ending in ":wait"; if the most specific match is for another method the
// answer is "no route" rather than a less specific route that happens to take this method.
func (s *Server) match(method string, segs []string) (rt *route, vars map[string]string, found bool) {
	bestScore, bestAny := -1, -1
	for i := range s.routes {
		cand := &s.routes[i]
		v, score, ok := cand.matchPath(segs)
		if !ok {
			continue
		}
		bestAny = max(bestAny, score)
		if cand.method != method {
			found = true
			continue
		}
		if score > bestScore {
			rt, vars, bestScore = cand, v, score
		}
	}
	if rt != nil && bestScore < bestAny {
		return nil, nil, true
	}
	return rt, vars, found
}

// matchPath matches segs against the pattern; score counts literal and verb segments.
func (rt *route) matchPath(segs []string) (map[string]string, int, bool) {
	if len(segs) != len(rt.segs) {
		return nil, 0, false
	}
	vars := map[string]string{}
	score := 0
	for i, p := range rt.segs {
		seg := segs[i]
		if !strings.HasPrefix(p, "{") {
			if p != seg {
				return nil, 0, false
			}
			score++
			continue
		}
		name, verb, hasVerb := strings.Cut(strings.TrimPrefix(p, "{"), "}")
		if hasVerb && verb != "" {
			suffix := verb // ":verb"
			if !strings.HasSuffix(seg, suffix) || len(seg) == len(suffix) {
				return nil, 0, false
			}
			seg = seg[:len(seg)-len(suffix)]
			score++
		}
		if seg == "" {
			return nil, 0, false
		}
		vars[name] = seg
	}
	return vars, score, true
}
