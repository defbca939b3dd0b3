package checks

import (
	"fmt"
	"strings"
	"testing"
)

func TestJoinSummaries(t *testing.T) {
	var sums []string
	for i := 0; i < 200; i++ {
		sums = append(sums, fmt.Sprintf("ns-%03d/svc has no internal load balancer", i))
	}
	if got := JoinSummaries(sums[:3]); got != strings.Join(sums[:3], "; ") {
		t.Errorf("three sentences are joined as they are: %q", got)
	}
	got := JoinSummaries(sums)
	want := strings.Join(sums[:3], "; ") + "; and 197 more like these (the evidence lists each)"
	if got != want {
		t.Errorf("200 sentences:\n got %q\nwant %q", got, want)
	}
}
