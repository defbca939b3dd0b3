package gcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	dns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

type recorder struct {
	mu     sync.Mutex
	seen   []string
	status int
	body   string
	header map[string]string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	status, body := r.status, r.body
	for k, v := range r.header {
		w.Header().Set(k, v)
	}
	r.mu.Unlock()
	if status == 0 {
		status, body = 200, "{}"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func newClients(t *testing.T, readOnly bool, rec *recorder) *Clients {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Options{Endpoint: srv.URL, ReadOnly: readOnly, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadOnlyGuardRefusesEveryNonGET(t *testing.T) {
	rec := &recorder{}
	c := newClients(t, true, rec)
	ctx := context.Background()
	calls := map[string]func() error{
		"compute firewalls insert": func() error {
			_, err := c.Compute.Firewalls.Insert("p", &compute.Firewall{Name: "x"}).Context(ctx).Do()
			return err
		},
		"compute firewalls delete": func() error { _, err := c.Compute.Firewalls.Delete("p", "x").Context(ctx).Do(); return err },
		"compute updatePeering": func() error {
			_, err := c.Compute.Networks.UpdatePeering("p", "n", &compute.NetworksUpdatePeeringRequest{}).Context(ctx).Do()
			return err
		},
		"dns zone create": func() error {
			_, err := c.DNS.ManagedZones.Create("p", &dns.ManagedZone{Name: "z"}).Context(ctx).Do()
			return err
		},
		"dns rrset patch": func() error {
			_, err := c.DNS.ResourceRecordSets.Patch("p", "z", "a.", "A", &dns.ResourceRecordSet{}).Context(ctx).Do()
			return err
		},
		"run patch": func() error {
			_, err := c.Run.Projects.Locations.Services.Patch("projects/p/locations/l/services/s", &run.GoogleCloudRunV2Service{}).Context(ctx).Do()
			return err
		},
		"setIamPolicy": func() error {
			_, err := c.CRM.Projects.SetIamPolicy("p", &crm.SetIamPolicyRequest{}).Context(ctx).Do()
			return err
		},
	}
	for name, call := range calls {
		if err := call(); apierr.KindOf(err) != apierr.ReadOnly {
			t.Errorf("%s: got %v, want a read-only refusal", name, err)
		}
	}
	if got := rec.requests(); len(got) != 0 {
		t.Fatalf("writes reached the server: %v", got)
	}
}

func TestReadOnlyGuardAllowsGETsAndPolicyReads(t *testing.T) {
	rec := &recorder{}
	c := newClients(t, true, rec)
	ctx := context.Background()
	if _, err := c.Compute.Firewalls.List("p").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DNS.ManagedZones.List("p").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run.Projects.Locations.Services.Get("projects/p/locations/l/services/s").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Container.Projects.Locations.Clusters.Get("projects/p/locations/l/clusters/c").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VPCAccess.Projects.Locations.Connectors.Get("projects/p/locations/l/connectors/c").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CRM.Projects.GetIamPolicy("p", &crm.GetIamPolicyRequest{}).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /compute/v1/projects/p/global/firewalls",
		"GET /dns/v1/projects/p/managedZones",
		"GET /v2/projects/p/locations/l/services/s",
		"GET /v1/projects/p/locations/l/clusters/c",
		"GET /v1/projects/p/locations/l/connectors/c",
		"POST /v1/projects/p:getIamPolicy",
	}
	if got := rec.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("server saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadOnlyGuardAllowsEffectiveFirewalls(t *testing.T) {
	rec := &recorder{}
	c := newClients(t, true, rec)
	ctx := context.Background()
	if _, err := c.Compute.Networks.GetEffectiveFirewalls("p", "default").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls("p", "europe-west1", "projects/p/global/networks/default").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /compute/v1/projects/p/global/networks/default/getEffectiveFirewalls",
		"GET /compute/v1/projects/p/regions/europe-west1/firewallPolicies/getEffectiveFirewalls",
	}
	if got := rec.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("server saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPermissionOfComputeWordingAndMapWith(t *testing.T) {
	rec := &recorder{status: 403, body: `{"error":{"code":403,"message":"Required 'compute.networks.getEffectiveFirewalls' permission for 'projects/p/global/networks/default'","errors":[{"reason":"forbidden","message":"x"}]}}`}
	c := newClients(t, true, rec)
	_, err := c.Compute.Networks.GetEffectiveFirewalls("p", "default").Context(context.Background()).Do()
	if e, ok := apierr.As(Map(err, "get effective firewalls", "projects/p/global/networks/default")); !ok || e.Kind != apierr.Permission || e.Permission != PermNetworksGetEffectiveFirewalls {
		t.Fatalf("got %#v", e)
	}
	rec.mu.Lock()
	rec.body = `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`
	rec.mu.Unlock()
	_, err = c.Compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls("p", "r", "default").Context(context.Background()).Do()
	if e, ok := apierr.As(MapWith(err, "get effective firewalls", "projects/p/regions/r", PermRegionEffectiveFirewalls)); !ok || e.Kind != apierr.Permission ||
		e.Permission != "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls" {
		t.Fatalf("got %#v", e)
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   apierr.Kind
		perm   string
	}{
		{"permission from ErrorInfo", 403, `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"IAM_PERMISSION_DENIED","metadata":{"permission":"compute.firewalls.list"}}]}}`, apierr.Permission, "compute.firewalls.list"},
		{"permission from message", 403, `{"error":{"code":403,"message":"Permission 'run.services.get' denied on resource","status":"PERMISSION_DENIED"}}`, apierr.Permission, "run.services.get"},
		{"api disabled", 403, `{"error":{"code":403,"message":"Cloud DNS API has not been used in project 1 before or it is disabled","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","metadata":{"service":"dns.googleapis.com"}}]}}`, apierr.APIDisabled, ""},
		{"not found", 404, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`, apierr.NotFound, ""},
		{"conflict", 409, `{"error":{"code":409,"message":"etag mismatch","status":"ABORTED"}}`, apierr.Conflict, ""},
		{"precondition", 412, `{"error":{"code":412,"message":"fingerprint","status":"FAILED_PRECONDITION"}}`, apierr.Conflict, ""},
		{"unauthenticated", 401, `{"error":{"code":401,"message":"bad token","status":"UNAUTHENTICATED"}}`, apierr.Unauthenticated, ""},
		{"server error", 500, `{"error":{"code":500,"message":"boom","status":"INTERNAL"}}`, apierr.Unavailable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{status: tc.status, body: tc.body}
			c := newClients(t, true, rec)
			_, err := c.Compute.Firewalls.List("p").Context(context.Background()).Do()
			err = Map(err, "list firewall rules", "projects/p")
			e, ok := apierr.As(err)
			if !ok || e.Kind != tc.kind || e.Permission != tc.perm {
				t.Fatalf("got %#v, want kind %s permission %q", e, tc.kind, tc.perm)
			}
			if tc.kind == apierr.APIDisabled && e.Remedy != "gcloud services enable dns.googleapis.com" {
				t.Fatalf("remedy %q", e.Remedy)
			}
		})
	}
}

func TestRetryOn429HonoursRetryAfterThenGivesUp(t *testing.T) {
	rec := &recorder{status: 429, body: `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`, header: map[string]string{"Retry-After": "0"}}
	c := newClients(t, true, rec)
	_, err := c.Compute.Firewalls.List("p").Context(context.Background()).Do()
	if apierr.KindOf(Map(err, "list", "p")) != apierr.RateLimited {
		t.Fatalf("got %v", err)
	}
	if n := len(rec.requests()); n != 4 {
		t.Fatalf("want 1 try + 3 retries, got %d requests", n)
	}
}

func TestTimeoutIsClassified(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, err := New(context.Background(), Options{Endpoint: srv.URL, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Compute.Firewalls.List("p").Context(ctx).Do()
	if apierr.KindOf(Map(err, "list", "p")) != apierr.Timeout {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the deadline was not honoured")
	}
}

func TestMissingCredentialsIsNotConfigured(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/absent.json")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	_, err := New(context.Background(), Options{ReadOnly: true})
	e, ok := apierr.As(err)
	if !ok || e.Kind != apierr.NotConfigured || e.Remedy != "gcloud auth application-default login" {
		t.Fatalf("got %v", err)
	}
}

// The IAM reads the mesh check makes are read-only POSTs; the writes of its fix are not.
func TestGuardIAMReadsAndWrites(t *testing.T) {
	for path, want := range map[string]bool{
		"/v1/projects/p:getIamPolicy":        true,
		"/v1/projects/p:getAncestry":         true,
		"/v2/folders/42:getIamPolicy":        true,
		"/v1/organizations/7:getIamPolicy":   true,
		"/v1/projects/p:testIamPermissions":  true,
		"/v1/projects/p:setIamPolicy":        false,
		"/v1/projects/p/roles/x:undelete":    false,
		"/v1/apps/p/services/default:deploy": false,
	} {
		if got := Allowed("POST", path); got != want {
			t.Errorf("POST %s allowed=%v, want %v", path, got, want)
		}
	}
}
