#!/usr/bin/env bash
# Builds the GoReleaser pinned in hack/tools/goreleaser/go.mod into
# ${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/tools/<stamp>/goreleaser (stamp: hash of that go.mod, so
# it is rebuilt only when the pin changes) and prints the binary's path as its last line. The release
# test runs `goreleaser check` with it (GKEDOCTOR_GORELEASER).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/goreleaser"
stamp="$(sha256sum "$here/go.mod" | cut -c1-12)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/tools/$stamp"
if [[ -x "$dir/goreleaser" ]]; then
	echo "$dir/goreleaser"
	exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp "$dir/goreleaser.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
echo "building goreleaser into $dir (a few minutes with a cold Go build cache)" >&2
(cd "$here" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$tmp" github.com/goreleaser/goreleaser/v2)
chmod 755 "$tmp"
mv "$tmp" "$dir/goreleaser"
echo "$dir/goreleaser"
