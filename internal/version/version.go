// Package version holds the build's version, stamped by the release build's ldflags
// (-X github.com/gkedoctor/gkedoctor/internal/version.Version=…).
package version

import "runtime/debug"

var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// String is the version line `gkedoctor version` prints.
func String() string {
	v := Version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	s := "gkedoctor " + v
	if Commit != "" {
		s += " (" + Commit
		if Date != "" {
			s += ", " + Date
		}
		s += ")"
	}
	return s
}

// ProbeImageRepo is the container repository the release publishes the tool's image to; the release
// build stamps it (-X …/version.ProbeImageRepo=…) next to Version. ProbeImage is the image the
// `--from cluster` and `--from cloud-run` vantage points launch.
var ProbeImageRepo = "ghcr.io/gkedoctor/gkedoctor"

// ProbeImage is this build's image reference: REPO:VERSION, or REPO:latest for a development build.
func ProbeImage() string {
	v := Version
	if v == "" || v == "dev" {
		v = "latest"
	}
	return ProbeImageRepo + ":" + v
}
