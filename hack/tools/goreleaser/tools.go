//go:build tools

// Package tools pins GoReleaser (v2.14.0: the newest release that builds with Go 1.26) so the tests
// can run `goreleaser check` on .goreleaser.yaml.
package tools

import _ "github.com/goreleaser/goreleaser/v2"
