#!/usr/bin/env bash
# install-test-deps.sh installs the Debian packages the test suite drives as
# real third-party components:
#   unbound  - a real recursive resolver (internal/testenv/unbound)
#   tmux     - end-to-end TUI tests (send-keys / capture-pane)
#   dnsutils - dig, so the equivalent commands the tool prints can be tried
#   rpm      - reads and installs the release's .rpm into a temporary root
#              (internal/release/packages_test.go; dpkg, for the .deb, is Debian's own)
#   ruby     - evaluates the release's Homebrew cask (internal/release/packages_test.go)
#
# Idempotent: a package whose command is already on PATH is skipped, and apt is
# touched only when something is missing ("apt-get update" at most once).
# Service start-up is suppressed during the install with a policy-rc.d that
# answers 101 ("action forbidden"), so unbound's postinst does not try to start
# a daemon in a container without systemd.
set -euo pipefail

# package -> command that proves it is installed
declare -A want=(
	[unbound]=unbound
	[tmux]=tmux
	[dnsutils]=dig
	[rpm]=rpm
	[ruby]=ruby
)

missing=()
for pkg in unbound tmux dnsutils rpm ruby; do
	cmd=${want[$pkg]}
	# unbound lives in /usr/sbin, which is not always on a non-root PATH.
	if command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ]; then
		continue
	fi
	missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
	exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "install-test-deps: missing ${missing[*]}; need root (or sudo) to install them" >&2
		exit 1
	fi
fi

echo "install-test-deps: installing ${missing[*]}" >&2

# Keep service start-ups from failing the install. If a policy-rc.d is already
# there (Docker images ship one that exits 101) leave it alone; otherwise put
# one in place for the duration of the install and remove it afterwards.
policy=/usr/sbin/policy-rc.d
placed_policy=0
cleanup() {
	if [ "$placed_policy" -eq 1 ]; then
		"${SUDO[@]}" rm -f "$policy"
	fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
	"${SUDO[@]}" chmod 0755 "$policy"
	placed_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" >/dev/null

for pkg in "${missing[@]}"; do
	cmd=${want[$pkg]}
	if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
		echo "install-test-deps: $pkg installed but $cmd not found" >&2
		exit 1
	fi
done
