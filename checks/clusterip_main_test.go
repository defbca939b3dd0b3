package checks

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// TestMain lets every test of package checks share one real kube-apiserver (testenv.Shared), and
// stops it at the end. There can be only one TestMain per package: add to this one, do not add another.
//
// It also holds, over every result any test of the package runs through the engine (scenario tests,
// the demo world, fault injection), that every plan states what it was judged against (issue 12:
// "every fix states, in its plan, the blast radius it was judged against"); carried-out records are
// statements, not plans.
func TestMain(m *testing.M) {
	var mu sync.Mutex
	unjudged := map[string]bool{}
	hook := func(r Result) {
		for _, p := range r.Fixes {
			if p == nil || p.CarriedOut {
				continue
			}
			blank := len(p.JudgedAgainst) == 0
			for _, j := range p.JudgedAgainst {
				blank = blank || strings.TrimSpace(j) == ""
			}
			if blank {
				mu.Lock()
				unjudged[fmt.Sprintf("%s: plan %s (%q)", r.ID, p.ID, p.Title)] = true
				mu.Unlock()
			}
		}
	}
	resultHook.Store(&hook)
	testenv.MainThen(m, func(code int) int {
		mu.Lock()
		defer mu.Unlock()
		if len(unjudged) == 0 {
			return code
		}
		var list []string
		for k := range unjudged {
			list = append(list, k)
		}
		sort.Strings(list)
		fmt.Fprintf(os.Stderr, "FAIL: %d plan(s) produced by this package's tests state nothing they were judged against (fixes.Plan.JudgedAgainst):\n  %s\n", len(list), strings.Join(list, "\n  "))
		return 1
	})
}
