package checks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The catalogue (catalogue.yaml) is the one list of ids. These tests hold the code to it: Register
// refuses an unknown id, every cause id the checks' code can emit is in the catalogue (and every cause
// the catalogue lists for a runnable check is emitted somewhere), and the supporting checks the code
// names are the catalogue's. catalogue_demo_test.go checks the same at run time over the demo world.

func TestRegisterPanicsOnAnIDMissingFromTheCatalogue(t *testing.T) {
	defer func() {
		p := recover()
		if p == nil || !strings.Contains(strings.ToLower(strings.TrimSpace(toString(p))), "catalogue.yaml") {
			t.Fatalf("Register of an unknown id: recovered %v, want a panic naming catalogue.yaml", p)
		}
		if _, ok := Lookup("no-such-check"); ok {
			t.Fatal("the unknown id was registered anyway")
		}
	}()
	Register(CheckFunc{CheckID: "no-such-check", Fn: nil})
}

func TestCatalogueIDLines(t *testing.T) {
	for _, i := range Catalogue() {
		if !catalogueHasID(i.ID) {
			t.Errorf("catalogue entry %s has no \"- id: %s\" line: Register's scan would refuse it", i.ID, i.ID)
		}
	}
	for _, id := range []string{"target-is-clusterip", "clusterip", "", "live-probe-failed"} {
		if catalogueHasID(id) {
			t.Errorf("%q is no catalogue entry (a cause, a prefix or nothing), yet the line scan finds it", id)
		}
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	}
	return ""
}

func TestSharedCausesAreDocumentedAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range SharedCauses {
		if c.ID == "" || c.Title == "" || c.Explanation == "" {
			t.Errorf("shared cause %+v: id, title and explanation are required", c)
		}
		if seen[c.ID] {
			t.Errorf("shared cause %s listed twice", c.ID)
		}
		seen[c.ID] = true
	}
	for _, i := range Catalogue() {
		for _, c := range i.Causes {
			if c.Title == "" || c.Explanation == "" {
				t.Errorf("%s/%s: title and explanation are required", i.ID, c.ID)
			}
			if seen[c.ID] {
				t.Errorf("%s/%s shadows the shared cause of the same id", i.ID, c.ID)
			}
		}
	}
	// What FromErr and the engine emit must be shared.
	for _, id := range []string{"missing-permission", "not-configured", "api-disabled", "unauthenticated", "not-found", "check-error", "check-panic", "check-timeout"} {
		if !seen[id] {
			t.Errorf("shared causes lack %s", id)
		}
	}
	if _, c, ok := CauseFor("clusterip-unreachable/missing-permission"); !ok || !c.Skip {
		t.Errorf("scoped lookup of a shared cause: %+v %v", c, ok)
	}
	if _, c, ok := CauseFor("run-vpc-egress/connector-not-ready"); !ok || c.Title == "" {
		t.Error("a supporting check's result may carry its parent's causes")
	}
	if KnownCause("dns-servfail", "target-is-clusterip") {
		t.Error("a cause of another check is not known to dns-servfail")
	}
}

func TestSupportingChecksComeFromTheCatalogue(t *testing.T) {
	byID := map[string]Info{}
	for _, i := range Catalogue() {
		byID[i.ID] = i
	}
	for _, i := range Catalogue() {
		switch {
		case i.Kind == "supporting" && i.Parent == "":
			t.Errorf("%s: a supporting check needs a parent", i.ID)
		case i.Parent != "" && byID[i.Parent].Kind != "primary":
			t.Errorf("%s: parent %s is not a primary check", i.ID, i.Parent)
		}
		// A runnable primary consults every one of its supporting checks: they must run too.
		if i.Available {
			for _, s := range Supporting(i.ID) {
				if !byID[s].Available {
					t.Errorf("%s is runnable but its supporting check %s is not registered", i.ID, s)
				}
			}
		}
	}
	got := Supporting("clusterip-unreachable")
	sort.Strings(got)
	if want := []string{"firewall-serverless-to-nodes", "ilb-provisioned", "run-vpc-egress", "vpc-connector-ready"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Supporting(clusterip-unreachable) = %v, want %v", got, want)
	}
}

// TestCodeAndCatalogueAgree scans the checks' code (this package and any sub-package, tests
// excluded) for the cause ids and supporting-check ids it names, and compares them with the catalogue.
func TestCodeAndCatalogueAgree(t *testing.T) {
	found := scanIDs(t, ".")
	known := map[string]bool{}
	for _, c := range SharedCauses {
		known[c.ID] = true
	}
	for _, i := range Catalogue() {
		for _, c := range i.Causes {
			known[c.ID] = true
		}
	}
	for id, where := range found.causes {
		if !known[id] {
			t.Errorf("cause %q (%s) is not in catalogue.yaml nor in SharedCauses: add it with a title and an explanation", id, where)
		}
	}
	// The scan must see the ways causes are emitted today, or it proves nothing.
	for _, id := range []string{"live-probe-failed", "target-is-clusterip", "observed-servfail", "forwarding-to-clusterip", "no-names", "not-applicable", "record-old-lb-ip", "check-timeout", "missing-permission"} {
		if _, ok := found.causes[id]; !ok {
			t.Errorf("the scan did not find cause %q: extend scanIDs to the way the code emits it", id)
		}
	}
	// Every cause the catalogue promises for a runnable check is one the code can emit.
	for _, i := range Catalogue() {
		if !i.Available {
			continue
		}
		for _, c := range i.Causes {
			if _, ok := found.causes[c.ID]; !ok {
				t.Errorf("catalogue.yaml lists %s/%s, but no check's code emits it", i.ID, c.ID)
			}
		}
	}
	// Supporting checks named in the code (Env.Dep, a verdict's Dep) are the catalogue's.
	for id, where := range found.deps {
		info, ok := InfoFor(id)
		if !ok || info.Kind != "supporting" || info.Parent == "" {
			t.Errorf("%s names %q as a supporting check; the catalogue says kind %q, parent %q", where, id, info.Kind, info.Parent)
		}
	}
	if len(found.deps) == 0 {
		t.Error("the scan found no supporting-check id: extend scanIDs")
	}
	for id, where := range found.lists {
		t.Errorf("%s: a hard-coded list of supporting checks (%s); use Supporting(primary), which reads the catalogue's parent fields", where, id)
	}
}

type scanned struct {
	causes map[string]string // id → first position
	deps   map[string]string
	lists  map[string]string // hard-coded lists of two or more supporting ids
}

// resultBuilders take the cause first: the Result constructors, and the local fail/warn closures
// checks use to fill a finding (sa_token_401.go's fail(cause, summary, plans...)).
var resultBuilders = map[string]bool{"FailResult": true, "WarnResult": true, "SkipResult": true, "fail": true, "warn": true}

// scanIDs collects the string literals the code uses as cause ids and as supporting-check ids:
//   - the first argument of FailResult, WarnResult, SkipResult and of local fail/warn closures;
//   - a value given to a field or variable named Cause / cause* (composite literal key, assignment,
//     declaration, []string{...} initialiser), compared with one (==, !=, switch case), or returned
//     first by a function named *cause* or whose first result is named cause;
//   - the id argument of X.Dep(ctx, "id"), and values given to or compared with a field named Dep.
func scanIDs(t *testing.T, root string) scanned {
	t.Helper()
	out := scanned{causes: map[string]string{}, deps: map[string]string{}, lists: map[string]string{}}
	fset := token.NewFileSet()
	supporting := map[string]bool{}
	for _, i := range Catalogue() {
		if i.Kind == "supporting" {
			supporting[i.ID] = true
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		scanFile(fset, f, &out, supporting)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil && s != ""
}

// nameOf is the identifier an expression ends in: x → x, a.b.c → c.
func nameOf(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.ParenExpr:
		return nameOf(x.X)
	}
	return ""
}

func isCause(name string) bool { return strings.HasPrefix(strings.ToLower(name), "cause") }
func isDep(name string) bool   { return name == "Dep" }

func scanFile(fset *token.FileSet, f *ast.File, out *scanned, supporting map[string]bool) {
	add := func(m map[string]string, e ast.Expr) {
		if s, ok := lit(e); ok {
			if _, seen := m[s]; !seen {
				m[s] = fset.Position(e.Pos()).String()
			}
		}
	}
	classify := func(name string, e ast.Expr) {
		switch {
		case isCause(name):
			add(out.causes, e)
			if cl, ok := e.(*ast.CompositeLit); ok {
				for _, el := range cl.Elts {
					add(out.causes, el)
				}
			}
		case isDep(name):
			add(out.deps, e)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			name := nameOf(x.Fun)
			if resultBuilders[name] && len(x.Args) > 0 {
				add(out.causes, x.Args[0])
			}
			if name == "Dep" && len(x.Args) == 2 {
				add(out.deps, x.Args[1])
			}
		case *ast.KeyValueExpr:
			classify(nameOf(x.Key), x.Value)
		case *ast.AssignStmt:
			if len(x.Lhs) == len(x.Rhs) {
				for i := range x.Lhs {
					classify(nameOf(x.Lhs[i]), x.Rhs[i])
				}
			}
		case *ast.ValueSpec:
			if len(x.Names) == len(x.Values) {
				for i := range x.Names {
					classify(x.Names[i].Name, x.Values[i])
				}
			}
		case *ast.BinaryExpr:
			if x.Op == token.EQL || x.Op == token.NEQ {
				classify(nameOf(x.X), x.Y)
				classify(nameOf(x.Y), x.X)
			}
		case *ast.SwitchStmt:
			if x.Tag != nil {
				name := nameOf(x.Tag)
				for _, st := range x.Body.List {
					for _, e := range st.(*ast.CaseClause).List {
						classify(name, e)
					}
				}
			}
		case *ast.FuncDecl:
			returnsCause := strings.Contains(strings.ToLower(x.Name.Name), "cause")
			if r := x.Type.Results; r != nil && len(r.List) > 0 && len(r.List[0].Names) > 0 && isCause(r.List[0].Names[0].Name) {
				returnsCause = true
			}
			if returnsCause && x.Body != nil {
				ast.Inspect(x.Body, func(n ast.Node) bool {
					if _, ok := n.(*ast.FuncLit); ok {
						return false
					}
					if ret, ok := n.(*ast.ReturnStmt); ok && len(ret.Results) >= 1 {
						add(out.causes, ret.Results[0])
					}
					return true
				})
			}
		case *ast.CompositeLit:
			// []string{"a-supporting-check", "another"}: a hand-kept list of supporting checks.
			n := 0
			var ids []string
			for _, el := range x.Elts {
				if s, ok := lit(el); ok && supporting[s] {
					n++
					ids = append(ids, s)
				}
			}
			if n >= 2 {
				out.lists[strings.Join(ids, ",")] = fset.Position(x.Pos()).String()
			}
		}
		return true
	})
}

// TestEachCheckLivesInAFileNamedAfterItsID: a newcomer finds a check by its id — checks/ID.go (dashes
// as underscores) holds its registration and its decision list.
func TestEachCheckLivesInAFileNamedAfterItsID(t *testing.T) {
	for _, c := range Registered() {
		if strings.HasPrefix(c.ID(), "test-") {
			continue
		}
		file := strings.ReplaceAll(c.ID(), "-", "_") + ".go"
		b, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("check %s: %v (a check lives in checks/%s)", c.ID(), err, file)
			continue
		}
		if !strings.Contains(string(b), `Register(`) || !strings.Contains(string(b), `"`+c.ID()+`"`) {
			t.Errorf("check %s: %s does not register it", c.ID(), file)
		}
	}
}

// Every failure mode a user can meet as an error text is recognisable by `gkedoctor triage`: each
// primary and related entry carries signatures, and the loader refuses a malformed one.
func TestCatalogueSignatures(t *testing.T) {
	for _, i := range Catalogue() {
		if i.Kind != "supporting" && len(i.Signatures) == 0 {
			t.Errorf("%s (%s) has no signatures: gkedoctor triage could not recognise it", i.ID, i.Kind)
		}
		if i.Kind == "supporting" && len(i.Signatures) > 0 {
			t.Errorf("%s is supporting: its signatures belong on its parent %s", i.ID, i.Parent)
		}
	}
	base := func() []Info {
		return []Info{{ID: "a", Kind: "primary", Causes: []Cause{{ID: "c1"}}},
			{ID: "b", Kind: "supporting", Parent: "a", Causes: []Cause{{ID: "c2"}}}}
	}
	good := Signature{ID: "s", Match: "boom", Causes: []string{"c1"}, Why: "because"}
	if err := validateSignatures(append(base()[:1], Info{ID: "b", Parent: "a", Signatures: []Signature{good}})); err != nil {
		t.Fatalf("a signature naming its parent's cause: %v", err)
	}
	for name, mutate := range map[string]func(*Signature){
		"no id":          func(s *Signature) { s.ID = "" },
		"bad regexp":     func(s *Signature) { s.Match = "(" },
		"bad unless":     func(s *Signature) { s.Unless = "[" },
		"matches empty":  func(s *Signature) { s.Match = "x*" },
		"unknown when":   func(s *Signature) { s.When = "sometimes" },
		"no why":         func(s *Signature) { s.Why = " " },
		"no causes":      func(s *Signature) { s.Causes = nil },
		"unknown cause":  func(s *Signature) { s.Causes = []string{"c2"} },
		"another's case": func(s *Signature) { s.Causes = []string{"missing-permission"} },
	} {
		s := good
		mutate(&s)
		list := base()
		list[0].Signatures = []Signature{s}
		if err := validateSignatures(list); err == nil {
			t.Errorf("%s: accepted %+v", name, s)
		}
	}
	list := base()
	list[0].Signatures = []Signature{good}
	list[1].Signatures = []Signature{good}
	if err := validateSignatures(list); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("a duplicate signature id: %v", err)
	}
}
