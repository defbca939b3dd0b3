#!/usr/bin/env bash
# Builds the kube-apiserver and etcd that internal/testenv runs in integration
# tests, from the modules pinned in hack/testbin/{kube-apiserver,etcd}/go.mod,
# into ${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/testbin/<stamp>, and prints
# that directory as the last line on stdout (everything else goes to stderr).
#
# <stamp> is the first 12 hex digits of the SHA-256 of the two go.mod files
# (kube-apiserver's, then etcd's, concatenated), so a change of pinned version
# gives a new directory and an unchanged pin reuses the cached binaries.
# internal/testenv.BinDir computes the same path; keep the two in step.
#
# Safe to run twice at once: the build happens in a temporary directory that
# is renamed into place, and a lock (when flock(1) exists) keeps a second run
# from building the same thing in parallel.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
apiserver_mod="$here/kube-apiserver/go.mod"
etcd_mod="$here/etcd/go.mod"

stamp="$(cat "$apiserver_mod" "$etcd_mod" | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/testbin"
dir="$root/$stamp"

complete() {
	[[ -x "$dir/kube-apiserver" && -x "$dir/etcd" ]]
}

if complete; then
	echo "$dir"
	exit 0
fi

mkdir -p "$root"

# Serialise concurrent builds of the same stamp; the rename below keeps the
# result consistent even without the lock, this only avoids duplicate work.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir.lock"
	flock 9
	if complete; then
		echo "$dir"
		exit 0
	fi
fi

tmp="$(mktemp -d "$dir.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# The hack modules must not be resolved through a go.work of the caller, and
# must build exactly what their go.sum pins.
export GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0

start=$SECONDS
echo "building test binaries into $dir (about 5 minutes on 2 cores with a cold Go build cache)" >&2

k8s_version="$(cd "$here/kube-apiserver" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
k8s_minor="$(echo "$k8s_version" | cut -d. -f2)"
# Without these the server reports v0.0.0-master in /version.
ldflags="-s -w"
ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8s_version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$k8s_minor"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

(cd "$here/kube-apiserver" &&
	go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
echo "built kube-apiserver $k8s_version after $((SECONDS - start))s" >&2

(cd "$here/etcd" &&
	go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
echo "built etcd after $((SECONDS - start))s" >&2

# rename(2) onto an existing non-empty directory fails, so a racing build
# that finished first wins and this one discards its copy.
if ! mv -T "$tmp" "$dir" 2>/dev/null; then
	if ! complete; then
		# A stale, incomplete directory (e.g. a copy interrupted by hand).
		rm -rf "$dir"
		mv -T "$tmp" "$dir"
	fi
fi

complete
echo "$dir"
