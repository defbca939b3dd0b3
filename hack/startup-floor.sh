#!/usr/bin/env bash
# startup-floor.sh: how much of `gkedoctor version`'s start-up is the libraries' alone.
#
# Builds, like the release (static, -trimpath, -tags grpcnotrace, stripped), programs that import a
# growing set of libraries (blank imports, so each package's init runs) and do nothing else, then
# measures each beside the release binary running `version`: wall time, CPU, page faults (perf stat,
# when it is installed) and peak RSS (/usr/bin/time). The rows:
#   ui            Bubble Tea, Lip Gloss, Bubbles, cobra, miekg/dns
#   +google       and the google.golang.org/api clients gkedoctor calls (grpc and s2a come with them)
#   +client-go    and client-go's REST client and kubeconfig loader
#   +typed        and client-go's typed clients of the API groups gkedoctor reads (DESIGN.md §3:
#                 "helpers over typed clients"); any one of them registers every API group's types
#   every dep     every non-standard package gkedoctor links
#   gkedoctor     `gkedoctor version`
# Wall and CPU are means over RUNS runs, peak RSS the median of 5.
# Run from the repository root: bash hack/startup-floor.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
tags=grpcnotrace
dir=$(mktemp -d hack/.startup-floor.XXXXXX)
trap 'rm -rf "$dir"' EXIT

ui=(charm.land/bubbletea/v2 charm.land/lipgloss/v2 charm.land/bubbles/v2/viewport github.com/spf13/cobra github.com/miekg/dns)
google=(google.golang.org/api/compute/v1 google.golang.org/api/container/v1 google.golang.org/api/dns/v1
	google.golang.org/api/run/v2 google.golang.org/api/vpcaccess/v1 google.golang.org/api/cloudresourcemanager/v3
	google.golang.org/api/networkmanagement/v1)
clientgo=(k8s.io/client-go/rest k8s.io/client-go/tools/clientcmd)
typed=()
for g in core apps discovery networking rbac authentication authorization batch; do
	typed+=("k8s.io/client-go/kubernetes/typed/$g/v1")
done
every=$(go list -deps -tags "$tags" ./cmd/gkedoctor | grep '\.' | grep -v '^github.com/gkedoctor/gkedoctor' |
	grep -v -e '/internal/' -e '/internal$' -e '^vendor/')

# program NAME PACKAGE...: a program importing the packages, built into $dir/NAME.
program() {
	local name=$1
	shift
	mkdir -p "$dir/src/$name"
	{
		echo 'package main'
		echo 'import ('
		printf '\t_ "%s"\n' "$@"
		echo ')'
		echo 'func main() {}'
	} >"$dir/src/$name/main.go"
	CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags '-s -w' -o "$dir/$name" "./$dir/src/$name"
}

program ui "${ui[@]}"
program google "${ui[@]}" "${google[@]}"
program client-go "${ui[@]}" "${google[@]}" "${clientgo[@]}"
program typed "${ui[@]}" "${google[@]}" "${clientgo[@]}" "${typed[@]}"
# shellcheck disable=SC2086
program every $every
CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags '-s -w' -o "$dir/gkedoctor" ./cmd/gkedoctor

have_perf=false
if command -v perf >/dev/null && perf stat -e page-faults true >/dev/null 2>&1; then
	have_perf=true
fi
printf '%-11s %9s %11s %10s %10s %12s\n' program 'file MB' 'wall ms' 'CPU ms' faults 'peak RSS MiB'
for row in ui google client-go typed every "gkedoctor version"; do
	set -- $row
	bin=$dir/$1
	shift
	rss=$(for _ in 1 2 3 4 5; do /usr/bin/time -f '%M' "$bin" "$@" 2>&1 >/dev/null | tail -n1; done | sort -n | sed -n 3p) # the median of 5
	faults=- cpu=-
	if $have_perf; then
		read -r faults cpu < <(perf stat -x, -e page-faults,task-clock -r "$runs" "$bin" "$@" 2>&1 >/dev/null |
			awk -F, '$3=="page-faults"{f=$1} $3=="task-clock"{c=$1} END{printf "%d %.1f\n", f, c}')
	fi
	t0=$(date +%s%N)
	for _ in $(seq "$runs"); do "$bin" "$@" >/dev/null; done
	wall=$(( ($(date +%s%N) - t0) / runs / 100000 ))
	wall=$(printf '%d.%d' $((wall / 10)) $((wall % 10)))
	printf '%-11s %9s %11s %10s %10s %12s\n' "${row%% *}" "$(awk -v b="$(stat -c %s "$bin")" 'BEGIN{printf "%.1f", b/1e6}')" \
		"$wall" "$cpu" "$faults" "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')"
done
