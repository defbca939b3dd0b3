package gref

import "testing"

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"default":                              "projects/p/global/networks/default",
		"global/networks/default":              "projects/p/global/networks/default",
		"projects/host/global/networks/shared": "projects/host/global/networks/shared",
		"https://www.googleapis.com/compute/v1/projects/host/global/networks/shared/": "projects/host/global/networks/shared",
		"": "",
	} {
		if got := Network(in, "p"); got != want {
			t.Errorf("Network(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Network("default", ""); got != "default" {
		t.Errorf("no project to qualify with: %q", got)
	}
	if got := NetworkURL("default", "p"); got != ComputeBase+"projects/p/global/networks/default" {
		t.Error(got)
	}
	if !SameNetwork("default", "https://www.googleapis.com/compute/v1/projects/p/global/networks/default", "p") || SameNetwork("default", "projects/q/global/networks/default", "p") {
		t.Error("SameNetwork")
	}
	if !NetworkMatches("default", "projects/q/global/networks/default") || NetworkMatches("projects/p/global/networks/default", "projects/q/global/networks/default") || !NetworkMatches("", "x") {
		t.Error("NetworkMatches")
	}
}

func TestSubnetworkAndLocations(t *testing.T) {
	if got := Subnetwork("default", "p", "europe-west1"); got != "projects/p/regions/europe-west1/subnetworks/default" {
		t.Error(got)
	}
	if p, r, n := SplitSubnetwork("https://www.googleapis.com/compute/v1/projects/host/regions/us-central1/subnetworks/s1"); p != "host" || r != "us-central1" || n != "s1" {
		t.Error(p, r, n)
	}
	if Region("europe-west1-b") != "europe-west1" || Region("europe-west1") != "europe-west1" || Region("") != "" {
		t.Error("Region")
	}
	if LocationOf("projects/p/locations/europe-west1/connectors/c") != "europe-west1" || ProjectOf("projects/p/locations/l/services/s") != "p" || ShortName("a/b/c/") != "c" {
		t.Error("LocationOf / ProjectOf / ShortName")
	}
	if Cluster("https://container.googleapis.com/v1/projects/p/zones/europe-west1-b/clusters/c") != "projects/p/locations/europe-west1-b/clusters/c" {
		t.Error("Cluster")
	}
}
