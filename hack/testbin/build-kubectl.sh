#!/usr/bin/env bash
# Builds the kubectl pinned in hack/testbin/kubectl/go.mod (the same Kubernetes v1.36.3 as the test
# kube-apiserver) into ${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/testbin/kubectl-<stamp>/kubectl and
# prints its path as the last line. `make bench` compares gkedoctor's audit with `kubectl get svc -A
# -o json` on the same API server; `make test` runs the binary as `kubectl gkedoctor` with it
# (cmd/gkedoctor/plugin_test.go).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kubectl"
stamp="$(sha256sum "$here/go.mod" | cut -c1-12)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/testbin/kubectl-$stamp"
if [[ -x "$dir/kubectl" ]]; then
	echo "$dir/kubectl"
	exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp "$dir/kubectl.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
echo "building kubectl into $dir" >&2
(cd "$here" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp" k8s.io/kubernetes/cmd/kubectl)
chmod 755 "$tmp"
mv "$tmp" "$dir/kubectl"
echo "$dir/kubectl"
