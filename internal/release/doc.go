// Package release holds the tests that keep .goreleaser.yaml honest: the release matrix it declares
// is built here with the same flags, and the version it stamps is read back from the binary.
package release
