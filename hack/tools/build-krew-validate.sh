#!/usr/bin/env bash
# Builds krew's manifest validator (validate-krew-manifest) pinned in hack/tools/krew/go.mod into
# ${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/tools/krew-<stamp>/validate-krew-manifest (stamp: hash of
# that go.mod, so it is rebuilt only when the pin changes) and prints the binary's path as its last
# line. The release test validates the rendered krew manifest with it (GKEDOCTOR_KREW_VALIDATE).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/krew"
stamp="$(sha256sum "$here/go.mod" | cut -c1-12)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/tools/krew-$stamp"
if [[ -x "$dir/validate-krew-manifest" ]]; then
	echo "$dir/validate-krew-manifest"
	exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp "$dir/validate-krew-manifest.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
echo "building validate-krew-manifest into $dir" >&2
(cd "$here" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$tmp" sigs.k8s.io/krew/cmd/validate-krew-manifest)
chmod 755 "$tmp"
mv "$tmp" "$dir/validate-krew-manifest"
echo "$dir/validate-krew-manifest"
