package checks

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

//go:embed catalogue.yaml
var catalogueYAML []byte

// Requires lists what a check needs to look.
type Requires struct {
	APIs        []string `json:"apis"`
	Permissions []string `json:"permissions"`
	RBAC        []string `json:"rbac"`
}

// Cause is one known cause of a failure mode, or (Skip) one reason a check could not look.
type Cause struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Explanation string `json:"explanation"`
	// Skip marks a reason the check reports with status skip (it could not look, or there was nothing
	// to look at), not a cause of the failure mode.
	Skip bool `json:"skip,omitempty"`
}

// SharedCauses are the cause ids any check may report without listing them in its catalogue entry:
// the reasons a check could not look (FromErr's skips, not-applicable) and the engine's own errors.
// Every other cause a check reports must be one of its own entry's causes or its parent's; the tests
// (catalogue_test.go) scan the checks' code and run them over the demo world to hold that.
var SharedCauses = []Cause{
	{ID: "missing-permission", Skip: true, Title: "Missing an IAM permission or RBAC verb",
		Explanation: "The API answered 403: the credentials in use lack the permission named in the summary. Grant it (see `gkedoctor checks` for what each check needs) or run as someone who has it."},
	{ID: "not-configured", Skip: true, Title: "Nothing configured to look with",
		Explanation: "No kubeconfig, no Application Default Credentials, --no-gcp, or no project/location/cluster known; the summary names the flag or the command that would supply it (gcloud auth application-default login, gcloud container clusters get-credentials …)."},
	{ID: "api-disabled", Skip: true, Title: "A Google API is disabled in the project",
		Explanation: "The API the check reads is not enabled in the project; `gcloud services enable API` enables it (the check only reads)."},
	{ID: "unauthenticated", Skip: true, Title: "The credentials were refused",
		Explanation: "The API answered 401: the token is expired or invalid. Refresh the credentials (gcloud auth application-default login, or a new kubeconfig token)."},
	{ID: "not-found", Skip: true, Title: "An object the check needs does not exist",
		Explanation: "The cluster, Cloud Run service, connector or Service named (by a flag or the context) was not found; check the name, project and location."},
	{ID: "not-applicable", Skip: true, Title: "Nothing for this check to look at",
		Explanation: "The targets of this run have nothing this check applies to (for example no Cloud Run source with VPC access, or no target that is a Service of this cluster); the summary says what was missing."},
	{ID: "bad-target", Skip: true, Title: "A target flag names something the check cannot use",
		Explanation: "A --workload (or --token-file) names a kind, object or file the check cannot use; the summary says what was wrong with it and how to spell it."},
	{ID: "read-only", Skip: true, Title: "The read-only guard refused a call the check needs",
		Explanation: "In read-only mode (audit, --read-only) every call that could change something is refused below the UI; this check needed one to look, so it could not. Run it outside read-only mode to look."},
	{ID: "unreachable", Skip: true, Title: "The server could not be reached",
		Explanation: "The API server (or the path to it the kubeconfig gives) did not answer: the summary carries the network error. The check could not look; this is not a verdict on the cause it tests."},
	{ID: "check-error", Title: "The check itself broke",
		Explanation: "An unexpected error stopped the check (status error); the summary carries it. The other checks ran."},
	{ID: "check-panic", Title: "The check crashed",
		Explanation: "The check panicked (a bug); the evidence holds the first lines of the stack. The other checks ran."},
	{ID: "check-timeout", Title: "The check did not finish in time",
		Explanation: "The check ran past the engine's per-check timeout and was abandoned; the evidence gathered until then is kept."},
}

// sharedCause returns the shared cause id.
func sharedCause(id string) (Cause, bool) {
	for _, c := range SharedCauses {
		if c.ID == id {
			return c, true
		}
	}
	return Cause{}, false
}

// Info is one catalogue entry.
type Info struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"` // primary, supporting, related
	Parent      string   `json:"parent,omitempty"`
	FailureMode string   `json:"failureMode"`
	Title       string   `json:"title"`
	Good        string   `json:"good"`
	Explanation string   `json:"explanation"`
	Requires    Requires `json:"requires"`
	Causes      []Cause  `json:"causes,omitempty"`
	// Signatures are the error texts (tracebacks, log lines, curl -v output) that point at this
	// failure mode; `gkedoctor triage` matches them (internal/triage).
	Signatures []Signature `json:"signatures,omitempty"`
	// Available is true when this build can run the check; false means planned.
	Available bool `json:"available"`
}

// Signature is one error text that points at a check and some of its causes.
type Signature struct {
	ID string `json:"id"`
	// Match is an RE2 regular expression, matched case-insensitively against the pasted text.
	Match string `json:"match"`
	// Unless, when set, is a pattern that rules the signature out (a more precise one explains the
	// text instead).
	Unless string `json:"unless,omitempty"`
	// When narrows the match by what else the text names (SignatureWhen*); empty means always.
	When string `json:"when,omitempty"`
	// Fallback signatures apply only when no other signature of the same entry matched: a vague text
	// ("UnknownHostException") says less than a precise one ("Name or service not known").
	Fallback bool `json:"fallback,omitempty"`
	// Causes are cause ids of the entry (or its parent) the text fits.
	Causes []string `json:"causes"`
	// Why says in one sentence why the text points here.
	Why string `json:"why"`
}

// The conditions a Signature's When may name.
const (
	// SignatureWhenClusterIP: the text names an address in GKE's default services range
	// (34.118.224.0/20) or a *.svc.cluster.local name.
	SignatureWhenClusterIP = "clusterip-address"
	// SignatureWhenOtherAddress: the text names an IP address outside that range (and no ClusterIP).
	SignatureWhenOtherAddress = "other-address"
	// SignatureWhenPrivateAddress: the text names a private (RFC 1918) address outside that range.
	SignatureWhenPrivateAddress = "private-address"
	// SignatureWhenNamedHost: the text names a host name that is not a cluster name.
	SignatureWhenNamedHost = "named-host"
)

// SignatureWhens lists the valid When values.
var SignatureWhens = []string{"", SignatureWhenClusterIP, SignatureWhenOtherAddress, SignatureWhenPrivateAddress, SignatureWhenNamedHost}

// CompileSignature compiles a signature's Match the way triage uses it (case-insensitive).
func CompileSignature(s Signature) (*regexp.Regexp, error) {
	return regexp.Compile("(?i)" + s.Match)
}

// validateSignatures holds every entry's signatures to the catalogue: unique ids, a pattern that
// compiles and cannot match empty text, a known When, and causes of the entry (or its parent).
func validateSignatures(list []Info) error {
	byID := map[string]Info{}
	for _, i := range list {
		byID[i.ID] = i
	}
	seen := map[string]string{}
	for _, i := range list {
		for _, s := range i.Signatures {
			where := fmt.Sprintf("catalogue: %s signature %q", i.ID, s.ID)
			if s.ID == "" {
				return fmt.Errorf("catalogue: %s has a signature without an id", i.ID)
			}
			if other, dup := seen[s.ID]; dup {
				return fmt.Errorf("%s: id already used by %s", where, other)
			}
			seen[s.ID] = i.ID
			re, err := CompileSignature(s)
			if err != nil {
				return fmt.Errorf("%s: match: %w", where, err)
			}
			if s.Unless != "" {
				if _, err := regexp.Compile("(?i)" + s.Unless); err != nil {
					return fmt.Errorf("%s: unless: %w", where, err)
				}
			}
			if re.MatchString("") {
				return fmt.Errorf("%s: match %q matches empty text", where, s.Match)
			}
			known := false
			for _, w := range SignatureWhens {
				known = known || s.When == w
			}
			if !known {
				return fmt.Errorf("%s: when %q is none of %v", where, s.When, SignatureWhens[1:])
			}
			if strings.TrimSpace(s.Why) == "" || len(s.Causes) == 0 {
				return fmt.Errorf("%s: why and causes are required", where)
			}
			for _, c := range s.Causes {
				if !entryHasCause(byID, i, c) {
					return fmt.Errorf("%s: cause %q is none of %s's (nor its parent's)", where, c, i.ID)
				}
			}
		}
	}
	return nil
}

func entryHasCause(byID map[string]Info, i Info, cause string) bool {
	for _, owner := range []Info{i, byID[i.Parent]} {
		for _, c := range owner.Causes {
			if c.ID == cause {
				return true
			}
		}
	}
	return false
}

var (
	catOnce sync.Once
	catList []Info
	catErr  error
)

func loadCatalogue() {
	catOnce.Do(func() {
		catErr = yaml.UnmarshalStrict(catalogueYAML, &catList)
		if catErr == nil {
			seen := map[string]bool{}
			for _, i := range catList {
				if i.ID == "" || seen[i.ID] {
					catErr = fmt.Errorf("catalogue: empty or duplicate id %q", i.ID)
					return
				}
				seen[i.ID] = true
			}
			catErr = validateSignatures(catList)
		}
	})
}

// catalogueHasID reports whether catalogue.yaml has an entry id, by its "- id: ID" line: Register runs
// in every package init, and parsing the YAML there would cost every start (even `gkedoctor version`)
// a few milliseconds. TestCatalogueIDLines holds the line scan to the parsed catalogue.
func catalogueHasID(id string) bool {
	for rest := catalogueYAML; len(rest) > 0; {
		line, next, _ := bytes.Cut(rest, []byte("\n")) // no allocation: Register runs in every init
		if v, ok := bytes.CutPrefix(bytes.TrimRight(line, " \r"), []byte("- id: ")); ok && string(v) == id {
			return true
		}
		rest = next
	}
	return false
}

// Catalogue returns every entry in display order, with Available set from the registry.
func Catalogue() []Info {
	loadCatalogue()
	if catErr != nil {
		panic(catErr) // the embedded file is part of the binary; TestCatalogue guards it
	}
	out := make([]Info, len(catList))
	copy(out, catList)
	for i := range out {
		_, out[i].Available = Lookup(out[i].ID)
	}
	return out
}

// InfoFor returns the catalogue entry of id.
func InfoFor(id string) (Info, bool) {
	for _, i := range Catalogue() {
		if i.ID == id {
			return i, true
		}
	}
	return Info{}, false
}

// CauseFor finds a cause by id across the catalogue ("cause" or "check/cause"). A scoped lookup also
// finds the causes of the check's parent and the shared causes (with the check's entry); an unscoped
// lookup of a shared cause returns it with an empty Info.
func CauseFor(id string) (Info, Cause, bool) {
	checkID, causeID, scoped := strings.Cut(id, "/")
	if !scoped {
		causeID = checkID
	}
	if scoped {
		info, ok := InfoFor(checkID)
		if !ok {
			return Info{}, Cause{}, false
		}
		for _, owner := range []string{info.ID, info.Parent} {
			if o, ok := InfoFor(owner); ok {
				for _, c := range o.Causes {
					if c.ID == causeID {
						return o, c, true
					}
				}
			}
		}
		if c, ok := sharedCause(causeID); ok {
			return info, c, true
		}
		return Info{}, Cause{}, false
	}
	for _, i := range Catalogue() {
		for _, c := range i.Causes {
			if c.ID == causeID {
				return i, c, true
			}
		}
	}
	if c, ok := sharedCause(causeID); ok {
		return Info{}, c, true
	}
	return Info{}, Cause{}, false
}

// KnownCause reports whether check id may report cause: one of its entry's causes, its parent's, or a
// shared cause. The empty cause (a pass) is known.
func KnownCause(id, cause string) bool {
	if cause == "" {
		return true
	}
	_, _, ok := CauseFor(id + "/" + cause)
	return ok
}

// Supporting returns the supporting checks of primary, from the catalogue's parent fields, in
// catalogue order. A primary check consults exactly these (Env.Dep); tests hold the code to it.
func Supporting(primary string) []string {
	var out []string
	for _, i := range Catalogue() {
		if i.Parent == primary && i.Kind == "supporting" {
			out = append(out, i.ID)
		}
	}
	return out
}

// IDs returns every catalogue id, for error messages.
func IDs() []string {
	var ids []string
	for _, i := range Catalogue() {
		ids = append(ids, i.ID)
	}
	return ids
}

var (
	regMu    sync.RWMutex
	registry = map[string]Check{}
)

// Register makes a check runnable. Its id must be in the catalogue (checks/catalogue.yaml): Register
// panics otherwise, at start-up, so a check cannot ship without its entry. Registering an id again
// replaces the check (tests use this).
func Register(c Check) {
	id := c.ID()
	if !catalogueHasID(id) {
		panic(fmt.Sprintf("checks.Register(%q): no such id in checks/catalogue.yaml; add the check's entry there first", id))
	}
	regMu.Lock()
	defer regMu.Unlock()
	registry[c.ID()] = c
}

// Lookup returns the registered check for id.
func Lookup(id string) (Check, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	c, ok := registry[id]
	return c, ok
}

// Registered returns the runnable checks in catalogue order.
func Registered() []Check {
	var out []Check
	for _, i := range Catalogue() {
		if c, ok := Lookup(i.ID); ok {
			out = append(out, c)
		}
	}
	return out
}

// Select resolves ids to runnable checks. An id not in the catalogue is an error naming the valid ids;
// a planned (not yet runnable) id is an error saying so.
func Select(ids []string) ([]Check, error) {
	if len(ids) == 0 {
		return Registered(), nil
	}
	var out []Check
	for _, id := range ids {
		info, ok := InfoFor(id)
		if !ok {
			valid := IDs()
			sort.Strings(valid)
			return nil, fmt.Errorf("unknown check id %q; valid ids: %s (see `gkedoctor checks`)", id, strings.Join(valid, ", "))
		}
		c, ok := Lookup(id)
		if !ok {
			return nil, fmt.Errorf("check %q is planned but not available in this build (see `gkedoctor checks`)", info.ID)
		}
		out = append(out, c)
	}
	return out, nil
}
