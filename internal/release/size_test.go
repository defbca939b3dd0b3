package release

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// maxReleaseBytes is the release binary's budget (issue 14: ≤ 60 MB; kubectl 1.32 is 57 MB).
const maxReleaseBytes = 60_000_000

// TestReleaseBinaryLean checks the native release binary (built with the release's flags) against the
// size budget, and that the linker's dead-method elimination is on for it. One reachable function
// that looks methods up by name at run time (text/template's field evaluation, reflect's
// Value.MethodByName with a variable name) makes the linker keep every exported method of every
// type in the binary: with golang.org/x/net/trace (imported by grpc unless built with grpcnotrace)
// the binary was 84 MB instead of 45 MB. The test names the function that turned it off and the
// chain that reached it.
func TestReleaseBinaryLean(t *testing.T) {
	b := load(t).Builds[0]
	if !contains(b.Flags, "-tags=grpcnotrace") {
		t.Errorf("the release build lacks -tags=grpcnotrace (flags %v): grpc then links golang.org/x/net/trace", b.Flags)
	}
	bin := buildNative(t)
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("release binary (native, %s): %.1f MB (budget %.0f MB)", strings.Join(b.Flags, " "), float64(fi.Size())/1e6, float64(maxReleaseBytes)/1e6)
	if fi.Size() > maxReleaseBytes {
		t.Errorf("the release binary is %.1f MB, over the %.0f MB budget", float64(fi.Size())/1e6, float64(maxReleaseBytes)/1e6)
	}

	// The linker prints its reachability graph with -dumpdep, marking functions that defeat
	// dead-method elimination <ReflectMethod>. Same flags as the release, output discarded.
	args := append([]string{"build"}, b.Flags...)
	args = append(args, "-ldflags=-dumpdep", "-o", os.DevNull, b.Main)
	cmd := exec.Command("go", args...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // -dumpdep writes to stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	culprit, chain := firstReflectMethod(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go build -ldflags=-dumpdep: %v", err)
	}
	if culprit != "" {
		t.Errorf("dead-method elimination is off: %s is reachable (it looks methods up by name at run time), via\n  %s",
			culprit, strings.Join(chain, "\n  "))
	}
}

// firstReflectMethod reads a -dumpdep graph ("from -> to" lines, in the order the linker marked
// them) and returns the first function marked <ReflectMethod> and how it was reached: the chain of
// first edges into it, most distant first. Before that function is marked, methods are kept only
// by interface matching, so the first one is the cause; the later ones are its consequences.
func firstReflectMethod(r interface{ Read([]byte) (int, error) }) (string, []string) {
	const mark = " <ReflectMethod>"
	firstInto := map[string]string{} // to → the first from that reached it
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	culprit := ""
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			continue
		}
		from = strings.TrimSuffix(strings.ReplaceAll(from, " <UsedInIface>", ""), mark)
		if culprit == "" && strings.HasSuffix(to, mark) {
			culprit = strings.TrimSuffix(to, mark)
		}
		to = strings.TrimSuffix(strings.ReplaceAll(to, " <UsedInIface>", ""), mark)
		if _, seen := firstInto[to]; !seen {
			firstInto[to] = from
		}
	}
	if culprit == "" {
		return "", nil
	}
	chain := []string{culprit}
	seen := map[string]bool{culprit: true}
	for x := culprit; len(chain) < 20; {
		p, ok := firstInto[x]
		if !ok || seen[p] {
			break
		}
		seen[p] = true
		chain = append([]string{p}, chain...)
		x = p
	}
	return culprit, chain
}

// TestFirstReflectMethod runs the reader over a small graph in -dumpdep's format.
func TestFirstReflectMethod(t *testing.T) {
	graph := strings.Join([]string{
		"_ -> main.main",
		"main.main -> fmt.Println",
		"_ -> go:main.inittasks",
		"go:main.inittasks -> golang.org/x/net/trace.init.0",
		"golang.org/x/net/trace.init.0 -> html/template.(*Template).Execute",
		"html/template.(*Template).Execute -> text/template.(*state).evalField <ReflectMethod>",
		"text/template.(*state).evalField <ReflectMethod> -> reflect.Value.MethodByName",
		"type:reflect.Value -> reflect.Value.Method <ReflectMethod>",
	}, "\n")
	culprit, chain := firstReflectMethod(strings.NewReader(graph))
	if culprit != "text/template.(*state).evalField" {
		t.Fatalf("culprit %q", culprit)
	}
	want := "_ > go:main.inittasks > golang.org/x/net/trace.init.0 > html/template.(*Template).Execute > text/template.(*state).evalField"
	if got := strings.Join(chain, " > "); got != want {
		t.Fatalf("chain\n got %s\nwant %s", got, want)
	}
	if c, _ := firstReflectMethod(strings.NewReader("_ -> main.main\n")); c != "" {
		t.Fatalf("a graph without the mark has culprit %q", c)
	}
}
