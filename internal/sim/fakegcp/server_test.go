package fakegcp_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	dns "google.golang.org/api/dns/v1"
	"google.golang.org/api/googleapi"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// permissionOf shows how a caller gets the missing permission out of a 403: the ErrorInfo detail's
// metadata.permission, else the "Permission 'x' denied" text of the message.
func permissionOf(err error) string {
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 {
		return ""
	}
	for _, d := range ge.Details {
		m, _ := d.(map[string]any)
		if md, ok := m["metadata"].(map[string]any); ok {
			if p, ok := md["permission"].(string); ok {
				return p
			}
		}
	}
	if m := regexp.MustCompile(`Permission '([^']+)' denied`).FindStringSubmatch(ge.Message); m != nil {
		return m[1]
	}
	return ""
}

func TestFault_PermissionDenied(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	remove := s.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/global/firewalls", Status: 403, Permission: "compute.firewalls.list"})
	_, err := a.compute.Firewalls.List(project).Context(ctx).Do()
	ge := apiErr(t, err, 403)
	if got := permissionOf(err); got != "compute.firewalls.list" {
		t.Fatalf("permission %q from %v", got, err)
	}
	if ge.Message != "Permission 'compute.firewalls.list' denied on 'projects/dev-orchestra/global/firewalls'" {
		t.Fatalf("message %q", ge.Message)
	}
	if len(ge.Errors) != 1 || ge.Errors[0].Reason != "forbidden" || !strings.Contains(ge.Body, `"status":"PERMISSION_DENIED"`) ||
		!strings.Contains(ge.Body, `"reason":"IAM_PERMISSION_DENIED"`) {
		t.Fatalf("envelope: %s", ge.Body)
	}
	// Other paths are unaffected; removing the fault restores the call.
	_, err = a.compute.Networks.Get(project, "default").Context(ctx).Do()
	noErr(t, err)
	remove()
	remove()
	_, err = a.compute.Firewalls.List(project).Context(ctx).Do()
	noErr(t, err)
}

func TestFault_TimesAndRegexpAndDisabledAPI(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	s.InjectFault(fakegcp.Fault{PathRegexp: regexp.MustCompile(`/networks/default$`), Status: 500, Times: 2})
	for range 2 {
		_, err := a.compute.Networks.Get(project, "default").Context(ctx).Do()
		ge := apiErr(t, err, 500)
		if !strings.Contains(ge.Body, `"status":"INTERNAL"`) {
			t.Fatalf("500 envelope: %s", ge.Body)
		}
	}
	_, err := a.compute.Networks.Get(project, "default").Context(ctx).Do()
	noErr(t, err)

	s.InjectFault(fakegcp.Fault{PathContains: "/dns/v1/", ServiceDisabled: "dns.googleapis.com"})
	_, err = a.dns.ManagedZones.List(project).Context(ctx).Do()
	ge := apiErr(t, err, 403)
	if ge.Errors[0].Reason != "accessNotConfigured" || !strings.Contains(ge.Body, "SERVICE_DISABLED") || !strings.Contains(ge.Message, "dev-orchestra") {
		t.Fatalf("disabled API: %s", ge.Body)
	}
	s.ClearFaults()
	s.InjectFault(fakegcp.Fault{Method: "POST", Status: 404})
	_, err = a.dns.ManagedZones.List(project).Context(ctx).Do()
	noErr(t, err)
}

func TestFault_HangEndsAtClientDeadline(t *testing.T) {
	s, a := newFake(t)
	seedDemoNetwork(s)
	s.InjectFault(fakegcp.Fault{PathContains: "/global/networks", Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.compute.Networks.Get(project, "default").Context(ctx).Do()
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if took > time.Second {
		t.Fatalf("hang returned after %v, want about 200ms", took)
	}
	// The log shows the request without a status (no response was sent).
	waitFor(t, func() bool {
		for _, r := range s.Requests() {
			if strings.HasSuffix(r.Path, "/global/networks/default") {
				return r.Status == 0
			}
		}
		return false
	})
}

func TestFault_HangEndsWhenServerCloses(t *testing.T) {
	s, a := newFake(t)
	s.InjectFault(fakegcp.Fault{Hang: true})
	errc := make(chan error, 1)
	go func() {
		_, err := a.compute.Networks.Get(project, "default").Context(context.Background()).Do()
		errc <- err
	}()
	waitFor(t, func() bool { return len(s.Requests()) == 1 })
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close blocked on a hanging request")
	}
	<-errc
}

func TestFault_RateLimitCarriesRetryAfter(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.InjectFault(fakegcp.Fault{Status: 429, RetryAfter: 2 * time.Second, Times: 1})
	_, err := a.dns.ManagedZones.List(project).Context(ctx).Do()
	ge := apiErr(t, err, 429)
	if ge.Header.Get("Retry-After") != "2" || !strings.Contains(ge.Body, `"status":"RESOURCE_EXHAUSTED"`) {
		t.Fatalf("Retry-After %q, body %s", ge.Header.Get("Retry-After"), ge.Body)
	}
	_, err = a.dns.ManagedZones.List(project).Context(ctx).Do()
	noErr(t, err)
}

func TestLatencyIsObserved(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.SetLatency(120 * time.Millisecond)
	start := time.Now()
	_, err := a.dns.ManagedZones.List(project).Context(ctx).Do()
	noErr(t, err)
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Fatalf("call took %v with 120ms latency", d)
	}
	s.SetLatency(0)
	s.InjectFault(fakegcp.Fault{PathContains: "managedZones", Latency: 150 * time.Millisecond})
	start = time.Now()
	_, err = a.dns.ManagedZones.List(project).Context(ctx).Do()
	noErr(t, err) // a latency-only fault still serves the request
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call took %v with a 150ms latency fault", d)
	}
}

func TestRequestLogAndMutations(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	s.SetIamPolicy(project, &crm.Policy{})
	var mu sync.Mutex
	var muts []fakegcp.Mutation
	s.OnMutation(func(m fakegcp.Mutation) {
		mu.Lock()
		defer mu.Unlock()
		muts = append(muts, m)
	})

	_, err := a.compute.Firewalls.List(project).MaxResults(7).Filter(`name="x"`).Context(ctx).Do()
	noErr(t, err)
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests logged", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || r.Path != "/compute/v1/projects/dev-orchestra/global/firewalls" || r.Query.Get("maxResults") != "7" ||
		r.Query.Get("filter") != `name="x"` || r.Status != 200 || r.Time.IsZero() {
		t.Fatalf("logged %+v", r)
	}

	fw := &compute.Firewall{Name: "allow-x", Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}
	_, err = a.compute.Firewalls.Insert(project, fw).Context(ctx).Do()
	noErr(t, err)
	_, err = a.compute.Firewalls.Insert(project, fw).Context(ctx).Do() // 409: not a mutation
	apiErr(t, err, 409)
	_, err = a.crm.Projects.GetIamPolicy(project, &crm.GetIamPolicyRequest{}).Context(ctx).Do() // read-only POST
	noErr(t, err)
	_, err = a.dns.ManagedZones.Create(project, &dns.ManagedZone{Name: "z", DnsName: "z.example.com."}).Context(ctx).Do()
	noErr(t, err)

	mu.Lock()
	got := append([]fakegcp.Mutation(nil), muts...)
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("mutations %+v, want the firewall insert and the zone create", got)
	}
	want := fakegcp.Mutation{API: "compute", Method: "POST", Path: "/compute/v1/projects/dev-orchestra/global/firewalls",
		Project: project, Kind: "Firewall", Name: "allow-x"}
	if got[0] != want || got[1].API != "dns" || got[1].Kind != "ManagedZone" || got[1].Name != "z" {
		t.Fatalf("mutations %+v", got)
	}
	if n := len(s.Requests()); n != 5 {
		t.Fatalf("%d requests logged, want 5", n)
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 {
		t.Fatal("log not reset")
	}
}

// TestOnMutationRunsControllerBeforeResponse shows the demo's use: a simulated Cloud DNS for GKE
// controller puts a hand-edited record in its managed zone back.
func TestOnMutationRunsControllerBeforeResponse(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddManagedZone(project, &dns.ManagedZone{Name: "gke-dev-orchestra-cluster-dns", DnsName: "cluster.local.", Visibility: "private"})
	orig := &dns.ResourceRecordSet{Name: "development-agent.default.svc.cluster.local.", Type: "A", Ttl: 30, Rrdatas: []string{"34.118.231.33"}}
	noErr(t, s.AddRRSet(project, "gke-dev-orchestra-cluster-dns", orig))
	s.OnMutation(func(m fakegcp.Mutation) {
		if m.Kind == "ResourceRecordSet" && m.Scope == "gke-dev-orchestra-cluster-dns" && m.Name == orig.Name {
			_ = s.SetRRSet(m.Project, m.Scope, orig)
		}
	})
	_, err := a.dns.ResourceRecordSets.Patch(project, "gke-dev-orchestra-cluster-dns", orig.Name, "A",
		&dns.ResourceRecordSet{Rrdatas: []string{"10.132.0.6"}}).Context(ctx).Do()
	noErr(t, err)
	got, err := a.dns.ResourceRecordSets.Get(project, "gke-dev-orchestra-cluster-dns", orig.Name, "A").Context(ctx).Do()
	noErr(t, err)
	if got.Rrdatas[0] != "34.118.231.33" {
		t.Fatalf("controller did not revert the hand edit: %v", got.Rrdatas)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"GET", "/compute/v1/projects/p/global/instances"},
		{"DELETE", "/v1/projects/p/locations/l/connectors/c"},
		{"GET", "/v1/projects/p:getIamPolicy"},
	} {
		code, env := rawDo(t, s.Handler(), c.method, c.path, "")
		if code != 404 || env.Error.Status != "NOT_FOUND" || env.Error.Message == "" {
			t.Errorf("%s %s: %d %+v", c.method, c.path, code, env)
		}
	}
	_, err := a.compute.Networks.Get(project, "nope").Context(ctx).Do()
	ge := apiErr(t, err, 404)
	if ge.Errors[0].Reason != "notFound" || !strings.Contains(ge.Message, "projects/dev-orchestra/global/networks/nope") {
		t.Fatalf("missing network: %+v", ge)
	}
	if code, env := rawDo(t, s.Handler(), "POST", "/dns/v1/projects/p/managedZones", "{not json"); code != 400 || env.Error.Status != "INVALID_ARGUMENT" {
		t.Fatalf("malformed JSON: %d %+v", code, env)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
