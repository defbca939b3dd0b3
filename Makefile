# gkedoctor — build, test, bench, lint, demo.
# `make test` does all of its own set-up on a fresh machine: Debian test packages (unbound, tmux,
# dnsutils), the kube-apiserver and etcd test binaries built from Go modules into
# $XDG_CACHE_HOME/gkedoctor/testbin (rebuilt only when their pinned versions change), then every test.

GO        ?= go
BIN       ?= bin/gkedoctor
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# grpcnotrace: grpc (linked by google.golang.org/api) otherwise imports golang.org/x/net/trace, whose
# html/template makes the linker keep every exported method of every type (84 MB instead of 45 MB).
TAGS      := grpcnotrace
LDFLAGS   := -s -w -X github.com/gkedoctor/gkedoctor/internal/version.Version=$(VERSION)
PKGS      := ./...

.PHONY: all build test test-deps testbin unit lint bench demo clean release-matrix

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gkedoctor

test-deps:
	bash hack/install-test-deps.sh

testbin:
	bash hack/testbin/build.sh >/dev/null
	bash hack/tools/build-goreleaser.sh >/dev/null
	bash hack/tools/build-krew-validate.sh >/dev/null
	bash hack/testbin/build-kubectl.sh >/dev/null

# Everything: lint, then every test (unit, real kube-apiserver/etcd, real DNS resolver, fake Google
# APIs through the real clients, the built binary under tmux, the native release build) with the race detector.
test: test-deps testbin lint
	GKEDOCTOR_TESTBIN="$$(bash hack/testbin/build.sh | tail -n 1)" GKEDOCTOR_REQUIRE_TESTBIN=1 \
	GKEDOCTOR_GORELEASER="$$(bash hack/tools/build-goreleaser.sh | tail -n 1)" \
	GKEDOCTOR_KREW_VALIDATE="$$(bash hack/tools/build-krew-validate.sh | tail -n 1)" \
	GKEDOCTOR_KUBECTL="$$(bash hack/testbin/build-kubectl.sh | tail -n 1)" \
		$(GO) test -race -count=1 -timeout 45m $(PKGS)

# The release matrix (linux/darwin/windows × amd64/arm64) cross-compiled with the release flags: the
# release does this itself; `make test` builds and runs the native target only.
release-matrix:
	GKEDOCTOR_RELEASE_MATRIX=1 $(GO) test -count=1 -run TestReleaseMatrixBuilds ./internal/release

# Fast loop: no set-up; tests that need the real servers skip and say so.
unit:
	$(GO) test -count=1 $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Benchmarks (DESIGN §6), printed side by side with the manual route: the audit against
# `kubectl get svc -A -o json` on a real kube-apiserver with 5,000 Services, the audit under 50 ms of
# injected Google API latency against its longest dependent chain, the TUI's first frame and redraw,
# and start-up: `gkedoctor version` against `kubectl version --client` (wall and peak RSS).
bench: test-deps testbin
	GKEDOCTOR_TESTBIN="$$(bash hack/testbin/build.sh | tail -n 1)" \
	GKEDOCTOR_KUBECTL="$$(bash hack/testbin/build-kubectl.sh | tail -n 1)" \
		$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x $(PKGS)

demo:
	$(GO) run ./cmd/gkedoctor demo

clean:
	rm -rf bin dist
