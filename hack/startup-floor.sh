#!/usr/bin/env bash
# startup-floor.sh: how much of `gkedoctor version`'s start-up is the dependencies' alone.
#
# Builds, like the release, a program that imports every non-standard package gkedoctor links (blank
# imports, so each one's init runs) and does nothing else, then measures it beside the release binary
# running `version`: page faults and CPU (perf stat when it is installed, else wall and peak RSS from
# /usr/bin/time). Run from the repository root: bash hack/startup-floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tags=grpcnotrace
dir=$(mktemp -d hack/.startup-floor.XXXXXX)
trap 'rm -rf "$dir"' EXIT
{
	echo 'package main'
	echo 'import ('
	go list -deps -tags "$tags" ./cmd/gkedoctor | grep '\.' | grep -v '^github.com/gkedoctor/gkedoctor' |
		grep -v -e '/internal/' -e '/internal$' -e '^vendor/' | sed 's/.*/\t_ "&"/'
	echo ')'
	echo 'func main() {}'
} >"$dir/main.go"
CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags '-s -w' -o "$dir/floor" "./$dir"
CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags '-s -w' -o "$dir/gkedoctor" ./cmd/gkedoctor
echo "dependencies only (imports $(grep -c '_ "' "$dir/main.go") packages): $(stat -c %s "$dir/floor") bytes"
echo "gkedoctor:                               $(stat -c %s "$dir/gkedoctor") bytes"
for what in "floor" "gkedoctor version"; do
	set -- $what
	echo "== $what"
	if command -v perf >/dev/null && perf stat -e page-faults true 2>/dev/null; then
		perf stat -e page-faults,task-clock -r 20 "$dir/$1" "${@:2}" 2>&1 >/dev/null | grep -E 'page-faults|task-clock|elapsed'
	else
		for _ in 1 2 3; do /usr/bin/time -f '%e s wall, %M KiB peak RSS' "$dir/$1" "${@:2}" >/dev/null; done
	fi
done
