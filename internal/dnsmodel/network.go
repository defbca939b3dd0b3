package dnsmodel

import "strings"

// computeBase prefixes network URLs as Cloud DNS and the compute API write them.
const computeBase = "https://www.googleapis.com/compute/v1/"

// NormalizeNetwork returns projects/P/global/networks/N for a network given as a URL
// (https://www.googleapis.com/compute/v1/projects/P/global/networks/N), a relative resource name, or a
// bare name, which is taken to be in defaultProject. "" stays "".
func NormalizeNetwork(s, defaultProject string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.Index(s, "projects/"); i >= 0 {
		parts := strings.Split(s[i:], "/")
		if len(parts) >= 5 && parts[2] == "global" && parts[3] == "networks" && parts[1] != "" && parts[4] != "" {
			return strings.Join(parts[:5], "/")
		}
		return s[i:]
	}
	if strings.Contains(s, "/") || defaultProject == "" {
		return s
	}
	return "projects/" + defaultProject + "/global/networks/" + s
}

// NetworkURL is the full URL Cloud DNS stores in privateVisibilityConfig.networks[].networkUrl.
func NetworkURL(network, defaultProject string) string {
	n := NormalizeNetwork(network, defaultProject)
	if strings.HasPrefix(n, "projects/") {
		return computeBase + n
	}
	return n
}

// NetworkName is the short name of a network ("default").
func NetworkName(network string) string {
	if i := strings.LastIndexByte(network, '/'); i >= 0 {
		return network[i+1:]
	}
	return network
}

// normalizeCluster returns projects/P/locations/L/clusters/C from a cluster URL or name.
func normalizeCluster(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "projects/"); i >= 0 {
		s = s[i:]
	}
	return strings.Replace(s, "/zones/", "/locations/", 1)
}
