// Package gref is the one place that reads and writes Google Cloud resource references: networks,
// subnetworks, regions, projects and short names. Every API spells a network its own way (a bare name
// in a firewall rule's form, a relative name in the container API, a full URL in Cloud DNS and in
// compute objects); everything that compares or prints one goes through here.
package gref

import "strings"

// ComputeBase prefixes resource URLs as the compute API and Cloud DNS write them.
const ComputeBase = "https://www.googleapis.com/compute/v1/"

// Network returns projects/P/global/networks/N for a network given as a URL
// (https://www.googleapis.com/compute/v1/projects/P/global/networks/N), a relative resource name
// (projects/P/global/networks/N, global/networks/N) or a bare name; a reference that does not name its
// project is taken to be in defaultProject. "" stays "". A reference it cannot read is returned
// trimmed, so comparing it still works for identical spellings.
func Network(ref, defaultProject string) string {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), "/")
	if ref == "" {
		return ""
	}
	project, name := SplitNetwork(ref)
	if project == "" {
		project = defaultProject
	}
	if name == "" || project == "" {
		if i := strings.Index(ref, "projects/"); i >= 0 {
			return ref[i:]
		}
		return ref
	}
	return "projects/" + project + "/global/networks/" + name
}

// NetworkURL is the full URL Cloud DNS and compute objects store for a network.
func NetworkURL(ref, defaultProject string) string {
	n := Network(ref, defaultProject)
	if strings.HasPrefix(n, "projects/") {
		return ComputeBase + n
	}
	return n
}

// SplitNetwork returns the project ("" when the reference does not say) and the name of a network
// reference: "default", "global/networks/default", "projects/p/global/networks/default" or a URL.
func SplitNetwork(ref string) (project, name string) {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), "/")
	if i := strings.Index(ref, "projects/"); i >= 0 {
		// The segment after "projects/", without allocating: the firewall evaluator calls this for
		// every rule of every packet.
		project, _, _ = strings.Cut(ref[i+len("projects/"):], "/")
	}
	return project, ShortName(ref)
}

// SameNetwork compares two network references, each in any spelling; a side that does not name its
// project is taken to be in defaultProject. Two empty references are the same; one empty is not.
func SameNetwork(a, b, defaultProject string) bool {
	return Network(a, defaultProject) == Network(b, defaultProject)
}

// NetworkName is the short name of a network ("default").
func NetworkName(ref string) string { return ShortName(ref) }

// Subnetwork returns projects/P/regions/R/subnetworks/S for a subnetwork URL or relative name, or a
// bare name (then in defaultProject and defaultRegion).
func Subnetwork(ref, defaultProject, defaultRegion string) string {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), "/")
	if ref == "" {
		return ""
	}
	if i := strings.Index(ref, "projects/"); i >= 0 {
		return ref[i:]
	}
	name := ShortName(ref)
	region := defaultRegion
	if parts := strings.Split(ref, "/"); len(parts) >= 4 && parts[0] == "regions" {
		region = parts[1]
	}
	if defaultProject == "" || region == "" {
		return ref
	}
	return "projects/" + defaultProject + "/regions/" + region + "/subnetworks/" + name
}

// SplitSubnetwork returns the project, region and name of a subnetwork reference ("" for what it
// does not say).
func SplitSubnetwork(ref string) (project, region, name string) {
	parts := strings.Split(strings.TrimSuffix(strings.TrimSpace(ref), "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		switch parts[i] {
		case "projects":
			project = parts[i+1]
		case "regions":
			region = parts[i+1]
		}
	}
	return project, region, ShortName(ref)
}

// Cluster returns projects/P/locations/L/clusters/C from a cluster URL or name (zones/ spelled as
// locations/).
func Cluster(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "projects/"); i >= 0 {
		ref = ref[i:]
	}
	return strings.Replace(ref, "/zones/", "/locations/", 1)
}

// ProjectOf returns P of a resource name or URL that contains projects/P/, else "".
func ProjectOf(resource string) string {
	if i := strings.Index(resource, "projects/"); i >= 0 {
		parts := strings.Split(resource[i:], "/")
		if len(parts) >= 2 {
			return parts[1]
		}
	}
	return ""
}

// LocationOf returns L of a resource name that contains locations/L/ (or regions/L/, zones/L/).
func LocationOf(resource string) string {
	parts := strings.Split(resource, "/")
	for i := 0; i+1 < len(parts); i++ {
		switch parts[i] {
		case "locations", "regions", "zones":
			return parts[i+1]
		}
	}
	return ""
}

// ShortName returns the last segment of a resource name or URL.
func ShortName(s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Region returns the region of a location: a zone's region (europe-west1-b → europe-west1), or the
// region itself.
func Region(location string) string {
	parts := strings.Split(location, "-")
	if len(parts) == 3 && len(parts[2]) == 1 {
		return parts[0] + "-" + parts[1]
	}
	return location
}

// NetworkMatches compares network references the way a firewall rule's network is matched against a
// packet's: an empty side matches every network, and a side that does not name its project matches
// the name in any project.
func NetworkMatches(a, b string) bool {
	if a == "" || b == "" || a == b {
		return true
	}
	pa, na := SplitNetwork(a)
	pb, nb := SplitNetwork(b)
	return na == nb && (pa == "" || pb == "" || pa == pb)
}
