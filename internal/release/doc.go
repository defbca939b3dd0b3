// Package release holds the tests that keep .goreleaser.yaml honest: the release matrix it declares
// is built here with the same flags, and the version it stamps is read back from the binary; a
// native-only GoReleaser snapshot is run once (snapshot_test.go) and what it produced is checked —
// the krew manifest, the .deb installed and run, the .rpm, the Homebrew cask, checksums and the SBOM.
package release
