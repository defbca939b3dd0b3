package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Every package linked into the binary runs its init on every start, `gkedoctor version` included
// (issue 9: start-up ≤ 30 ms). These stay out of the product: client-go's fake clientset (its init
// registers every API group in a scheme of its own; the demo world uses internal/sim/clientset.go).
func TestProductDoesNotLinkStartUpHeavyPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/gkedoctor/gkedoctor/cmd/gkedoctor").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "k8s.io/client-go/kubernetes/fake":
			t.Errorf("the product binary links %s: keep it in tests (see internal/sim/clientset.go)", pkg)
		}
	}
}
