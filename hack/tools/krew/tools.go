//go:build tools

// Package tools pins krew (v0.4.3) for its manifest validator, validate-krew-manifest, which the
// release test runs on the krew manifest GoReleaser renders. krew's validation lives in its internal/
// packages and needs k8s.io/apimachinery v0.21, so it is built here, in a module of its own, and
// never joins gkedoctor's go.mod.
package tools

import _ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
