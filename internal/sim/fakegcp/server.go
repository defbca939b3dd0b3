// Package fakegcp is a stateful, in-process fake of the subset of Google Cloud REST APIs gkedoctor
// calls (container v1, compute v1, dns v1, run v2, vpcaccess v1, cloudresourcemanager v1 and v2, iam v1,
// appengine v1).
//
// It is an httptest server on 127.0.0.1 that the real google.golang.org/api clients talk to through
// an endpoint override: every client gets option.WithEndpoint(s.URL+"/"), except compute, which gets
// option.WithEndpoint(s.URL+"/compute/v1/"). The server therefore sees the APIs' own relative paths.
// No emulator exists for these APIs, so this is the boundary gkedoctor's integration tests and the
// demo world run against: it keeps state in the APIs' own Go structs, paginates every list that
// paginates in the real API, enforces etags and fingerprints, runs long-running operations (done at
// once or after SetOperationDelay), and injects latency and faults (403, 404, 429, 500, hangs), always
// answering errors in Google's JSON error envelope.
//
// Seeding methods (Add*, Set*) and readers (Cluster, Firewalls, …) are safe for concurrent use and
// copy objects in and out. They neither appear in the request log nor fire OnMutation callbacks:
// only requests over HTTP do.
package fakegcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
)

// maxBody bounds a request body; larger bodies are answered with 400.
const maxBody = 8 << 20

// maxLoggedRequests bounds the request log; the oldest entries are dropped beyond it, so a long demo
// session or a fuzz run does not grow without bound.
const maxLoggedRequests = 100_000

// defaultPageSize is the page size when neither the request nor Server.PageSize sets one (the
// compute API's documented default).
const defaultPageSize = 500

// Server is the fake. Create it with New; stop it with Close.
type Server struct {
	// URL is the base URL (http://127.0.0.1:PORT) to hand to the clients' endpoint override.
	URL string
	// PageSize, when > 0, is the default page size of every paginated list and also caps the size a
	// client asks for, so pagination is exercised even when the caller asks for 500. Set it before
	// requests are in flight, or use SetPageSize.
	PageSize int

	ts        *httptest.Server
	done      chan struct{} // closed by Close: ends hangs and sleeps
	closeOnce sync.Once
	routes    []route

	mu       sync.Mutex
	latency  time.Duration
	opDelay  time.Duration
	faults   []*faultEntry
	requests []*Request
	hooks    []func(Mutation)
	nextID   uint64
	rnd      *rand.Rand
	projects map[string]bool // projects that exist (anything seeded or created in them)

	// container
	clusters     map[string]*container.Cluster // key(project, location, name)
	containerOps map[string]*containerOp       // key(project, location, name)

	// compute
	networks   map[string]*networkEntry           // key(project, name)
	subnets    map[string]*compute.Subnetwork     // key(project, region, name)
	routers    map[string]*compute.Router         // key(project, region, name): Cloud Routers and their NATs
	routesC    map[string]*compute.Route          // key(project, name)
	firewalls  map[string]*compute.Firewall       // key(project, name)
	fwdRules   map[string]*compute.ForwardingRule // key(project, region, name)
	addresses  map[string]*compute.Address        // key(project, region, name)
	computeOps map[string]*compute.Operation      // key(project, scope, name); scope "global" or region
	fwPolicies []*FirewallPolicy                  // in the order added

	// dns
	zones  map[string]*zoneEntry // key(project, zone name)
	dnsPol *dnsPolicyState       // server and response policies (dnspolicy.go)

	// run
	services map[string]*run.GoogleCloudRunV2Service // key(project, location, name)
	runOps   map[string]*runOp                       // key(full operation name)

	// vpcaccess
	connectors map[string]*vpcaccess.Connector // key(project, location, name)

	// cloudresourcemanager
	policies map[string]*crm.Policy     // key(project)
	denied   map[string]map[string]bool // project → permissions testIamPermissions leaves out

	iam *iamState // roles, ancestry, folder and organisation policies (iam.go)
	gae *gaeState // App Engine applications, services and versions (appengine.go)

	jobsOnce  sync.Once
	jobState  *jobState // Cloud Run jobs, executions and their logs (runjobs.go)
	connOnce  sync.Once
	connState *connTests // Network Management connectivity tests (netmgmt.go)
}

// Request is one entry of the request log.
type Request struct {
	Method string
	// Path is the decoded request path, e.g. /compute/v1/projects/p/global/firewalls.
	Path  string
	Query url.Values
	Time  time.Time
	// Status is the response status, or 0 if none was sent (the request hung until the client gave up,
	// or is still in flight).
	Status int
}

// Mutation describes one successful mutating request. It is passed to OnMutation callbacks.
type Mutation struct {
	API     string // "container", "compute", "dns", "run", "vpcaccess", "cloudresourcemanager"
	Method  string // HTTP method
	Path    string // decoded request path
	Project string
	// Scope is the region or location of regional resources, the managed zone of a DNS record set,
	// and empty for global resources.
	Scope string
	Kind  string // e.g. "Firewall", "Network", "ManagedZone", "ResourceRecordSet", "Service", "Cluster", "Policy"
	Name  string // short resource name (a record set's DNS name)
	// RecordType is the DNS type of a changed record set; empty otherwise.
	RecordType string
}

// New starts a fake on 127.0.0.1 and returns it with URL set.
func New() *Server {
	s := newServer()
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

func newServer() *Server {
	s := &Server{
		done:         make(chan struct{}),
		nextID:       4_200_000_000_000_000_000,
		rnd:          rand.New(rand.NewPCG(1, 2)),
		projects:     map[string]bool{},
		clusters:     map[string]*container.Cluster{},
		containerOps: map[string]*containerOp{},
		networks:     map[string]*networkEntry{},
		subnets:      map[string]*compute.Subnetwork{},
		routers:      map[string]*compute.Router{},
		routesC:      map[string]*compute.Route{},
		firewalls:    map[string]*compute.Firewall{},
		fwdRules:     map[string]*compute.ForwardingRule{},
		addresses:    map[string]*compute.Address{},
		computeOps:   map[string]*compute.Operation{},
		zones:        map[string]*zoneEntry{},
		dnsPol:       newDNSPolicyState(),
		services:     map[string]*run.GoogleCloudRunV2Service{},
		runOps:       map[string]*runOp{},
		connectors:   map[string]*vpcaccess.Connector{},
		policies:     map[string]*crm.Policy{},
		denied:       map[string]map[string]bool{},
		iam:          newIAMState(),
		gae:          newGAEState(),
	}
	for _, rs := range [][]route{s.containerRoutes(), s.computeRoutes(), s.routerRoutes(), s.dnsRoutes(), s.dnsPolicyRoutes(), s.runRoutes(), s.vpcaccessRoutes(), s.crmRoutes(),
		s.iamRoutes(), s.appengineRoutes(), s.runJobRoutes(), s.netmgmtRoutes(), s.crmProjectRoutes()} {
		s.routes = append(s.routes, rs...)
	}
	return s
}

// Handler returns the server as an http.Handler (for tests that drive it without a listener).
func (s *Server) Handler() http.Handler { return s }

// Close ends every hanging or delayed request and stops the listener.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.ts != nil {
			s.ts.Close()
		}
	})
}

// SetPageSize sets PageSize under the server's lock (for use while requests are in flight).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.PageSize = n
}

// SetLatency delays every request by d before it is handled (0 turns it off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetOperationDelay makes long-running operations started afterwards (Cloud Run service updates,
// GKE cluster updates) complete d after they start: until then they read done=false (status RUNNING)
// and the resource shows it is reconciling. 0 (the default) completes them at once. Compute
// operations are always DONE.
func (s *Server) SetOperationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opDelay = d
}

// Requests returns a copy of the request log, oldest first (the most recent 50,000–100,000 requests).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
		out[i].Query = cloneValues(r.Query)
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// OnMutation registers f to be called after every successful mutating request, outside the server's
// lock, before the response is sent: a client that sees the response also sees everything f did.
// f may call the server's methods. f runs on the request's goroutine, so a simulated controller
// that should act later must start (and stop) its own goroutine.
func (s *Server) OnMutation(f func(Mutation)) {
	if f == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, f)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Time: time.Now()}
	s.mu.Lock()
	if len(s.requests) >= maxLoggedRequests {
		s.requests = append(s.requests[:0:0], s.requests[len(s.requests)-maxLoggedRequests/2:]...)
	}
	s.requests = append(s.requests, rec)
	latency := s.latency
	s.mu.Unlock()

	status := s.serve(w, r, latency)

	s.mu.Lock()
	rec.Status = status
	s.mu.Unlock()
}

// serve handles one request and returns the status sent (0 if none).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, latency time.Duration) (status int) {
	defer func() {
		if v := recover(); v != nil {
			// A bug in the fake must not take the demo down; the fuzz test asserts this never happens.
			status = writeError(w, errInternal(fmt.Sprintf("fakegcp: internal error: %v", v)))
		}
	}()
	if !s.sleep(r.Context(), latency) {
		return 0
	}
	if f := s.matchFault(r); f != nil {
		if !s.sleep(r.Context(), f.Latency) {
			return 0
		}
		if f.Hang {
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return 0
		}
		if e := f.apiError(r); e != nil {
			return writeError(w, e)
		}
	}

	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return writeError(w, errNotFound(r.URL.Path))
	}
	rt, vars, found := s.match(r.Method, segs)
	if rt == nil {
		if found {
			return writeError(w, newError(http.StatusNotFound, "notFound", "Method %s is not supported on %s", r.Method, r.URL.Path))
		}
		return writeError(w, newError(http.StatusNotFound, "notFound", "The requested URL %s was not found on this server.", r.URL.Path))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return writeError(w, errInvalid("could not read the request body: %v", err))
	}
	if len(body) > maxBody {
		return writeError(w, errInvalid("request body larger than %d bytes", maxBody))
	}
	c := &call{s: s, r: r, vars: vars, body: body, api: rt.api, status: http.StatusOK}
	var sel fieldSel // a partial response (the fields parameter), checked before anything is done
	if f := r.URL.Query().Get("fields"); f != "" {
		var ok bool
		if sel, ok = parseFields(f); !ok {
			return writeError(w, errInvalid("Invalid field selection %s", f))
		}
	}
	res, apiErr := rt.h(c)
	if apiErr == nil && sel != nil && c.status != http.StatusNoContent {
		res, apiErr = partial(res, sel)
	}
	if apiErr != nil {
		return writeError(w, apiErr)
	}
	if len(c.muts) > 0 {
		s.mu.Lock()
		hooks := append([]func(Mutation){}, s.hooks...)
		s.mu.Unlock()
		for _, m := range c.muts {
			for _, h := range hooks {
				h(m)
			}
		}
	}
	return writeJSON(w, c.status, res)
}

// sleep waits d, or until the request or the server ends; it reports whether the full time passed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return status
	}
	b, err := json.Marshal(v)
	if err != nil {
		return writeError(w, errInternal("fakegcp: cannot encode the response: "+err.Error()))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// call is the per-request context handed to route handlers.
type call struct {
	s      *Server
	r      *http.Request
	vars   map[string]string
	body   []byte
	api    string
	status int // success status (200 unless a handler sets 204)
	muts   []Mutation
}

func (c *call) v(name string) string { return c.vars[name] }

func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// decode unmarshals the body into v; an empty body is an error when required, else leaves v alone.
func (c *call) decode(v any, required bool) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		if required {
			return errInvalid("Invalid JSON payload received. The request body is required.")
		}
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errBadJSON(err)
	}
	return nil
}

// rawBody decodes the body as a JSON object, for handlers that need to know which fields were sent.
func (c *call) rawBody() (map[string]any, *apiError) {
	m := map[string]any{}
	if len(bytes.TrimSpace(c.body)) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(c.body, &m); err != nil {
		return nil, errBadJSON(err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// mutated records a successful mutation, reported to OnMutation callbacks after the handler returns.
func (c *call) mutated(kind, project, scope, name, rrType string) {
	c.muts = append(c.muts, Mutation{API: c.api, Method: c.r.Method, Path: c.r.URL.Path, Project: project,
		Scope: scope, Kind: kind, Name: name, RecordType: rrType})
}

// --- helpers shared by the API files (callers hold s.mu where state is touched) ---

// key joins the parts of a map key; NUL cannot occur in a decoded resource name that matters.
func key(parts ...string) string { return strings.Join(parts, "\x00") }

// keysWithPrefix returns the sorted keys of m that start with key(prefix...)+"\x00".
func keysWithPrefix[V any](m map[string]V, prefix ...string) []string {
	p := ""
	if len(prefix) > 0 {
		p = key(prefix...) + "\x00"
	}
	var ks []string
	for k := range m {
		if strings.HasPrefix(k, p) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// id returns a new numeric resource id.
func (s *Server) id() uint64 {
	s.nextID += 7919
	return s.nextID
}

// randString returns n random characters from alphabet.
func (s *Server) randString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rnd.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	lowerHex   = "0123456789abcdef"
	lowerAlpha = "abcdefghijklmnopqrstuvwxyz"
	b64Alpha   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// etag returns a fresh opaque etag (IAM style: base64 text).
func (s *Server) etag() string { return "Bw" + s.randString(10, b64Alpha) + "=" }

func (s *Server) uuid() string {
	h := s.randString(32, lowerHex)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// markProject records that a project exists.
func (s *Server) markProject(p string) {
	if p != "" {
		s.projects[p] = true
	}
}

// projectNumber derives a stable 12-digit project number from the project id.
func projectNumber(p string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(p))
	return 100_000_000_000 + int64(h.Sum64()%900_000_000_000)
}

// clone deep-copies an API struct through its JSON form (which is what the API sees anyway).
func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return new(T)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return new(T)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Timestamp formats.
func computeTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-07:00") }
func rfc3339(t time.Time) string     { return t.UTC().Format(time.RFC3339Nano) }

// mergePatch applies an RFC 7396 JSON merge patch to target (both decoded JSON objects).
func mergePatch(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, pv := range patch {
		if pv == nil {
			delete(target, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			tm, _ := target[k].(map[string]any)
			target[k] = mergePatch(tm, pm)
			continue
		}
		target[k] = pv
	}
	return target
}

// toMap converts an API struct to its decoded JSON object.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// fromMap decodes a JSON object into an API struct.
func fromMap(m map[string]any, out any) *apiError {
	b, err := json.Marshal(m)
	if err != nil {
		return errBadJSON(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errBadJSON(err)
	}
	return nil
}

// withType returns v's JSON object with an "@type" field, as Any-typed fields in operations carry.
func withType(typeURL string, v any) []byte {
	m := toMap(v)
	m["@type"] = typeURL
	b, _ := json.Marshal(m)
	return b
}
