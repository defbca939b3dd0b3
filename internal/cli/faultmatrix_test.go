package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/sim"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The fault matrix: every check against the fake Google server and a real kube-apiserver (both
// seeded with the demo world), with each API endpoint a check reads answering each fault of
// fakegcp.AllFaults in turn. Whatever the fault, a check that reads that endpoint never passes and
// never panics: it skips or errors with a reason naming what it could not read; the run ends within
// --timeout; nothing is written on either server.

// matrixEndpoint is one endpoint: "google GET /compute/v1/…" or "kube GET /api/v1/…".
type matrixEndpoint struct{ side, method, path string }

func (e matrixEndpoint) String() string { return e.side + " " + e.method + " " + e.path }

type faultMatrix struct {
	mu      sync.Mutex
	target  *matrixEndpoint
	fault   fakegcp.FaultKind
	seen    map[matrixEndpoint]bool
	writes  []string
	stopped chan struct{}
}

func (m *faultMatrix) observe(side string, r *http.Request) *fakegcp.Injection {
	ep := matrixEndpoint{side, r.Method, r.URL.Path}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[ep] = true
	if r.Method != http.MethodGet && !(side == "google" && !fakegcp.IsGoogleWrite(r)) && !(side == "kube" && !isKubeWrite(r)) {
		m.writes = append(m.writes, ep.String())
	}
	if m.target != nil && *m.target == ep {
		return &fakegcp.Injection{Kind: m.fault, Permission: permissionFor(ep), RetryAfter: time.Second, HugeBytes: 16 << 20}
	}
	return nil
}

// permissionFor names a plausible missing permission for an endpoint (for 403 with a permission).
func permissionFor(ep matrixEndpoint) string {
	if ep.side == "kube" {
		return ""
	}
	parts := strings.Split(strings.Trim(ep.path, "/"), "/")
	return parts[0] + ".resources.get"
}

// kubeStatus renders an error the way kube-apiserver does (a metav1.Status).
func kubeStatus(r *http.Request, in *fakegcp.Injection, code int) []byte {
	reason := map[int]metav1.StatusReason{401: metav1.StatusReasonUnauthorized, 403: metav1.StatusReasonForbidden, 404: metav1.StatusReasonNotFound,
		409: metav1.StatusReasonConflict, 429: metav1.StatusReasonTooManyRequests, 500: metav1.StatusReasonInternalError, 503: metav1.StatusReasonServiceUnavailable}[code]
	msg := fmt.Sprintf("injected %d on %s", code, r.URL.Path)
	if in.Kind == fakegcp.Fault403Permission {
		msg = fmt.Sprintf(`%s is forbidden: User "admin" cannot %s resource at path %s`, r.URL.Path, strings.ToLower(r.Method), r.URL.Path)
	}
	b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: msg, Reason: reason, Code: int32(code)})
	return b
}

// seedKubeObjects loads the demo world's objects into the real server (best effort: what the server
// already has, or refuses, is left as it is).
func seedKubeObjects(ctx context.Context, t *testing.T, k kubernetes.Interface) {
	objs, err := sim.SeedKubeObjects()
	if err != nil {
		t.Fatal(err)
	}
	// Twice: objects that depend on others (pods on their ServiceAccounts) succeed the second time.
	for range 2 {
		objs = seedOnce(ctx, t, k, objs)
	}
	for _, o := range objs {
		t.Logf("seed %T: not created", o)
	}
}

// seedOnce creates objs and returns the ones that failed for another reason than existing already.
func seedOnce(ctx context.Context, t *testing.T, k kubernetes.Interface, objs []runtime.Object) []runtime.Object {
	var failed []runtime.Object
	for _, o := range objs {
		var err error
		switch v := o.(type) {
		case *corev1.Namespace:
			v.ResourceVersion = ""
			_, err = k.CoreV1().Namespaces().Create(ctx, v, metav1.CreateOptions{})
		case *corev1.ConfigMap:
			v.ResourceVersion = ""
			_, err = k.CoreV1().ConfigMaps(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.ServiceAccount:
			v.ResourceVersion = ""
			_, err = k.CoreV1().ServiceAccounts(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Service:
			v.ResourceVersion = ""
			_, err = k.CoreV1().Services(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Secret:
			v.ResourceVersion = ""
			_, err = k.CoreV1().Secrets(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Pod:
			v.ResourceVersion = ""
			_, err = k.CoreV1().Pods(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Node:
			v.ResourceVersion = ""
			_, err = k.CoreV1().Nodes().Create(ctx, v, metav1.CreateOptions{})
		case *appsv1.Deployment:
			v.ResourceVersion = ""
			_, err = k.AppsV1().Deployments(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *appsv1.DaemonSet:
			v.ResourceVersion = ""
			_, err = k.AppsV1().DaemonSets(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			v.ResourceVersion = ""
			_, err = k.DiscoveryV1().EndpointSlices(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			v.ResourceVersion = ""
			_, err = k.RbacV1().ClusterRoles().Create(ctx, v, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			v.ResourceVersion = ""
			_, err = k.RbacV1().ClusterRoleBindings().Create(ctx, v, metav1.CreateOptions{})
		default:
			continue
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			failed = append(failed, o)
		}
	}
	return failed
}

type matrixResult struct {
	ID, Status, Cause, Summary string
	Evidence                   []struct{ Step, Status, Detail string }
}

func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver and runs the audit a few hundred times")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := startAPIServer(ctx, t)
	seedKubeObjects(ctx, t, srv.Clientset())
	g := fakegcp.New()
	t.Cleanup(g.Close)
	if err := sim.SeedFakeGCP(g); err != nil {
		t.Fatal(err)
	}
	m := &faultMatrix{seen: map[matrixEndpoint]bool{}, stopped: make(chan struct{})}

	host, _ := url.Parse(srv.RESTConfig().Host)
	rt, err := rest.TransportFor(srv.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(host)
	rp.Transport = rt
	kp := httptest.NewServer(&fakegcp.Middleware{Next: rp, Done: m.stopped, ErrorBody: kubeStatus,
		Inject: func(r *http.Request) *fakegcp.Injection { return m.observe("kube", r) }})
	t.Cleanup(kp.Close)
	gp := httptest.NewServer(&fakegcp.Middleware{Next: g, Done: m.stopped,
		Inject: func(r *http.Request) *fakegcp.Injection { return m.observe("google", r) }})
	t.Cleanup(gp.Close)
	t.Cleanup(func() { close(m.stopped) }) // first: ends hanging handlers, or Close waits for them
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", gp.URL)

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: kp.URL}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts[sim.Context] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "default"}
	cfg.CurrentContext = sim.Context
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	const timeout = 3 * time.Second
	args := func(ids ...string) []string {
		return append([]string{"audit", "-o", "json", "--timeout", timeout.String(), "--kubeconfig", kc,
			"--cloud-run-service", sim.CloudRunService, "--service", "default/development-agent",
			"--dns-name", "development-agent.default.svc.cluster.local", "--peer", "10.2.0.1:443",
			"--workload", "deploy/default/environment-manager", "--resolver", "127.0.0.1:9"}, ids...)
	}
	audit := func(t *testing.T, ids ...string) ([]matrixResult, time.Duration, string) {
		start := time.Now()
		code, out, stderr := run(t, args(ids...)...)
		took := time.Since(start)
		var rep struct{ Results []matrixResult }
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("exit %d, not JSON: %v\n%s\n%s", code, err, out, stderr)
		}
		return rep.Results, took, stderr
	}

	// Baseline: which endpoints each check reads.
	uses := map[matrixEndpoint][]string{}
	var ids []string
	for _, c := range checks.Registered() {
		ids = append(ids, c.ID())
	}
	sort.Strings(ids)
	for _, id := range ids {
		m.mu.Lock()
		m.seen = map[matrixEndpoint]bool{}
		m.mu.Unlock()
		audit(t, id)
		m.mu.Lock()
		for ep := range m.seen {
			uses[ep] = append(uses[ep], id)
		}
		m.mu.Unlock()
	}
	var eps []matrixEndpoint
	for ep := range uses {
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].String() < eps[j].String() })
	for _, ep := range eps {
		t.Logf("%s: %v", ep, uses[ep])
	}
	// The sweep. Every fault on every endpoint is GKEDOCTOR_FAULT_MATRIX=full; by default each
	// endpoint gets a deterministic rotation of faultsPerEndpoint faults, so consecutive endpoints
	// cover every fault (on 2 shared cores the full matrix takes several minutes).
	faultsPerEndpoint := 3
	if os.Getenv("GKEDOCTOR_FAULT_MATRIX") == "full" {
		faultsPerEndpoint = len(fakegcp.AllFaults)
	}
	cells, covered := 0, map[fakegcp.FaultKind]int{}
	var findings []string
	for i, ep := range eps {
		for j := range faultsPerEndpoint {
			fault := fakegcp.AllFaults[(i*faultsPerEndpoint+j)%len(fakegcp.AllFaults)]
			covered[fault]++
			cells += len(uses[ep])
			m.mu.Lock()
			epc := ep
			m.target, m.fault, m.writes = &epc, fault, nil
			m.mu.Unlock()
			results, took, stderr := audit(t, uses[ep]...)
			m.mu.Lock()
			m.target = nil
			writes := m.writes
			m.mu.Unlock()
			cell := fmt.Sprintf("%s × %s", ep, fault)
			if took > timeout+2*time.Second {
				t.Errorf("%s: the run took %s, past --timeout %s", cell, took.Round(time.Millisecond), timeout)
			}
			if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("%s: a panic or stack trace on stderr:\n%s", cell, stderr)
			}
			if len(writes) > 0 {
				t.Errorf("%s: writes reached a server: %v", cell, writes)
			}
			for _, r := range results {
				verdict, hard := matrixVerdict(ep, fault, r)
				switch {
				case verdict == "":
				case hard:
					t.Errorf("%s: %s: %s", cell, r.ID, verdict)
				default:
					findings = append(findings, fmt.Sprintf("%s: %s: %s", cell, r.ID, verdict))
				}
			}
		}
	}
	sort.Strings(findings)
	t.Logf("findings (a fail/warn decided on the facts that were read, or a reason that names no API — the run's deadline):\n%s", strings.Join(findings, "\n"))
	t.Logf("fault matrix: %d checks × %d endpoints × %d faults (%d per endpoint, rotated; faults covered: %v): %d check runs, %d findings",
		len(ids), len(eps), len(fakegcp.AllFaults), faultsPerEndpoint, covered, cells, len(findings))
}

// matrixVerdict returns what is wrong with a check's result when an endpoint it reads is faulted
// ("" when nothing), and whether it is a hard failure (a pass) or a finding.
func matrixVerdict(ep matrixEndpoint, fault fakegcp.FaultKind, r matrixResult) (string, bool) {
	text := strings.ToLower(r.Summary)
	for _, e := range r.Evidence {
		text += "\n" + strings.ToLower(e.Step+" "+e.Detail)
	}
	switch r.Status {
	case "pass":
		if fault == fakegcp.Fault404 && isKubeDiscovery(ep) {
			// 404 on /apis/GROUP/VERSION is how kube-apiserver says the group is not served (the
			// CRDs are not installed): an answer, on which "none of them" is a fact.
			return "", false
		}
		return "pass on facts it could not read: " + r.Summary, true
	case "skip", "error":
	default:
		return fmt.Sprintf("%s [%s] with a fact it could not read: %s", r.Status, r.Cause, r.Summary), false
	}
	for _, name := range apiNames(ep) {
		if strings.Contains(text, name) {
			return "", false
		}
	}
	return fmt.Sprintf("%s without naming the API it could not read (%v): %s", r.Status, apiNames(ep), r.Summary), false
}

// apiNames are the words that name an endpoint's API in a reason.
func apiNames(ep matrixEndpoint) []string {
	if ep.side == "kube" {
		names := []string{"kubernetes", "kube-apiserver", "api server", "kubectl", "rbac", ep.path}
		segs := strings.Split(strings.Trim(ep.path, "/"), "/")
		for _, seg := range segs {
			if seg != "api" && seg != "apis" && seg != "v1" && seg != "namespaces" && len(seg) > 3 {
				names = append(names, strings.TrimSuffix(strings.ToLower(seg), "s"))
			}
		}
		return names
	}
	p := ep.path
	switch {
	case strings.HasPrefix(p, "/compute/"):
		return []string{"compute", "network", "firewall", "subnet", "route", "peering", "gcloud compute"}
	case strings.HasPrefix(p, "/dns/"):
		return []string{"cloud dns", "dns", "zone"}
	case strings.HasPrefix(p, "/v2/"):
		return []string{"cloud run", "run.googleapis.com", "gcloud run"}
	case strings.Contains(p, "/connectors/"):
		return []string{"connector", "vpc access", "vpcaccess"}
	case strings.Contains(p, "/clusters/"):
		return []string{"cluster", "container", "gke"}
	}
	return []string{"google", "api"}
}

// isKubeDiscovery reports whether ep is an API group version's discovery document (/apis/GROUP/VERSION).
func isKubeDiscovery(ep matrixEndpoint) bool {
	segs := strings.Split(strings.Trim(ep.path, "/"), "/")
	return ep.side == "kube" && ep.method == http.MethodGet && len(segs) == 3 && segs[0] == "apis"
}
