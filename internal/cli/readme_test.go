package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/config"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's generated sections")

// TestREADMEPermissionsAreTheCatalogue keeps the README's "Permissions each check needs" table equal
// to `gkedoctor checks -o markdown`, so the README cannot drift from the embedded catalogue.
// go test ./internal/cli -run README -update-readme rewrites it.
func TestREADMEPermissionsAreTheCatalogue(t *testing.T) {
	const begin, end = "<!-- checks -o markdown: begin -->\n", "<!-- checks -o markdown: end -->"
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	code, out, stderr := run(t, "checks", "-o", "markdown")
	if code != 0 {
		t.Fatalf("checks -o markdown: exit %d: %s", code, stderr)
	}
	got := readme[i+len(begin) : j]
	if got == out {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+out+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's permissions table differs from `gkedoctor checks -o markdown`; run: go test ./internal/cli -run README -update-readme")
}

// TestREADMEConfigExampleIsTheLoadersExample: the Configuration section shows config.Example verbatim
// (which internal/config's tests parse), so the README's example cannot stop loading.
func TestREADMEConfigExampleIsTheLoadersExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```yaml\n"+config.Example+"```\n") {
		t.Fatal("README.md's Configuration section does not hold internal/config's Example verbatim in a yaml block")
	}
}
