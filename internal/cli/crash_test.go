package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// The crash test: every fix, killed (a real SIGKILL of a child process) right after each of its
// writes reached the server — before the child saw the answer, the worst moment — and then
// `gkedoctor undo --last` (the command, in another process than the fix) must bring the world back to
// where it was. The child is this test binary re-executed (TestMain runs crashChild when
// crashChildEnv is set); the kill comes from the parent's proxies in front of the real kube-apiserver
// and the fake Google server, so nothing in gkedoctor itself has a crash hook.

const (
	crashChildEnv = "GKEDOCTOR_CRASHTEST_CASE"
	crashKubeEnv  = "GKEDOCTOR_CRASHTEST_KUBECONFIG"
	crashNS       = "crashtest"
	crashProject  = "dev-orchestra"
	crashContext  = "gke_dev-orchestra_europe-west1_dev-orchestra-cluster"
	crashNetwork  = "projects/dev-orchestra/global/networks/default"
)

// crashCase is one fix: how to seed the world, the plan (built in the child from its session), and a
// dump of the state the fix and its undo touch.
type crashCase struct {
	name     string
	seedGCP  func(g *fakegcp.Server)
	seedKube func(ctx context.Context, t *testing.T, k kubernetes.Interface)
	plan     func(s *app.Session) *fixes.Plan
}

var crashSvc = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: crashNS},
	Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "development-agent"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}

func crashCases() []crashCase {
	seedNet := func(g *fakegcp.Server) {
		g.AddNetwork(crashProject, &compute.Network{Name: "default", Peerings: []*compute.NetworkPeering{{Name: "peer-partner-data",
			Network: "projects/partner-data/global/networks/partner-vpc", State: "ACTIVE"}}})
		g.AddNetwork("partner-data", &compute.Network{Name: "partner-vpc", Peerings: []*compute.NetworkPeering{{Name: "peer-dev-orchestra",
			Network: crashNetwork, State: "ACTIVE"}}})
		g.SetIamPolicy(crashProject, &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"user:alice@example.com"}}}})
	}
	return []crashCase{
		{name: "owned-zone", seedGCP: seedNet, plan: func(s *app.Session) *fixes.Plan {
			return fixes.NewOwnedZonePlan(fixes.OwnedZoneParams{Project: crashProject, Network: "default", Cluster: "dev-orchestra-cluster",
				Records: []fixes.OwnedRecord{{Label: "development-agent.default", Service: "default/development-agent", IP: "10.132.0.6"},
					{Label: "environment-manager.default", Service: "default/environment-manager", IP: "10.132.0.5"}},
				Deps: s.Env.FixDeps})
		}},
		{name: "firewall", seedGCP: seedNet, plan: func(s *app.Session) *fixes.Plan {
			return fixes.NewFirewallPlan(s.Env.FixDeps, fixes.FirewallRule{Project: crashProject, ClusterProject: crashProject, Network: crashNetwork,
				Name: fixes.FirewallRuleName("dev-orchestra-cluster", "192.168.99.0/28", 80), SourceRange: "192.168.99.0/28",
				TargetTag: "gke-dev-orchestra-cluster-node", Protocol: "tcp", Port: 80})
		}},
		{name: "iam-binding", seedGCP: seedNet, plan: func(s *app.Session) *fixes.Plan {
			return fixes.NewIAMBindingPlan(s.Env.FixDeps, fixes.IAMBinding{Project: crashProject, Role: "roles/trafficdirector.client",
				Member: "serviceAccount:mesh-client@dev-orchestra.iam.gserviceaccount.com", Why: "test"})
		}},
		{name: "peering-exchange", seedGCP: seedNet, plan: func(s *app.Session) *fixes.Plan {
			return fixes.NewPeeringExchangePlan(s.Env.FixDeps, fixes.PeeringExchange{
				Ours:   fixes.PeeringSide{Project: crashProject, Network: "default", Peering: "peer-partner-data", Set: []string{fixes.FieldExportCustomRoutes}},
				Theirs: fixes.PeeringSide{Project: "partner-data", Network: "partner-vpc", Peering: "peer-dev-orchestra", Set: []string{fixes.FieldImportCustomRoutes}}})
		}},
		{name: "internal-lb", seedGCP: seedNet,
			seedKube: func(ctx context.Context, t *testing.T, k kubernetes.Interface) {
				createOrKeep(t, func() error {
					_, err := k.CoreV1().Services(crashNS).Create(ctx, crashSvc.DeepCopy(), metav1.CreateOptions{})
					return err
				})
			},
			plan: func(s *app.Session) *fixes.Plan {
				return fixes.NewInternalLBPlan(s.Env.FixDeps, fixes.InternalLB{Original: crashSvc.DeepCopy(), WaitTimeout: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond})
			}},
		{name: "rbac", seedGCP: seedNet, plan: func(s *app.Session) *fixes.Plan {
			return fixes.NewRoleBindingPlan(s.Env.FixDeps, fixes.RoleBindingSpec{Namespace: crashNS, ServiceAccount: "orchestrai-sa",
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}})
		}},
		{name: "token-secret", seedGCP: seedNet,
			seedKube: func(ctx context.Context, t *testing.T, k kubernetes.Interface) {
				lab := map[string]string{"app": "agent"}
				d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: crashNS}, Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: lab}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lab},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:1"}},
							Volumes: []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "orchestrai-sa-token-old"}}}}}}}}
				createOrKeep(t, func() error {
					_, err := k.AppsV1().Deployments(crashNS).Create(ctx, d, metav1.CreateOptions{})
					return err
				})
			},
			plan: func(s *app.Session) *fixes.Plan {
				fixes.RolloutWaitTimeout = 200 * time.Millisecond
				return fixes.NewTokenSecretPlan(s.Env.FixDeps, fixes.TokenSecretSpec{Namespace: crashNS, ServiceAccount: "orchestrai-sa",
					Workload: &fixes.WorkloadRef{Kind: "Deployment", Namespace: crashNS, Name: "agent"}, Replaces: "orchestrai-sa-token-old"})
			}},
		{name: "ip-masq", seedGCP: seedNet, plan: func(s *app.Session) *fixes.Plan {
			return fixes.NewIPMasqPlan(s.Env.FixDeps, fixes.IPMasqChange{Config: "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\nmasqLinkLocal: false\n",
				PeerRanges: []string{"10.2.0.0/16"}, Keep: []string{"172.16.0.0/16"}})
		}},
	}
}

func createOrKeep(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// crashChild runs in the re-executed test binary: it builds the session the CLI would (from the
// proxy kubeconfig and GKEDOCTOR_GCP_ENDPOINT) and applies one case's plan. The parent kills it.
func crashChild(name string) int {
	var c *crashCase
	for _, cc := range crashCases() {
		if cc.name == name {
			c = &cc
		}
	}
	if c == nil {
		fmt.Fprintln(os.Stderr, "no crash case", name)
		return 2
	}
	o := app.NewOptions()
	kc := os.Getenv(crashKubeEnv)
	o.Kube.KubeConfig = &kc
	if err := o.Complete(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := app.Build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	if _, err := s.Applier.Apply(ctx, c.plan(s), nil); err != nil && !fixes.IsWaitError(err) {
		fmt.Fprintln(os.Stderr, "apply:", err)
		return 1
	}
	return 0
}

// crashWorld is the parent's side: the real kube-apiserver and a fake Google server, each behind a
// fakegcp.Middleware that counts writes and kills the child at the chosen one.
type crashWorld struct {
	srv        *testenv.APIServer
	admin      kubernetes.Interface
	gcp        *fakegcp.Server
	kubeconfig string
	gcpURL     string

	mu     sync.Mutex
	writes atomic.Int32
	killAt int32 // 0: never
	pid    int   // the running child's, 0 when none
	exited chan struct{}
	killed atomic.Bool
	log    []string
}

func (w *crashWorld) afterWrite(r *http.Request, status int) {
	n := w.writes.Add(1)
	w.mu.Lock()
	w.log = append(w.log, fmt.Sprintf("%d %s %s -> %d", n, r.Method, r.URL.Path, status))
	pid, exited, at := w.pid, w.exited, w.killAt
	w.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); at != 0 && n == at && pid == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the child wrote before runChild recorded its pid
		w.mu.Lock()
		pid = w.pid
		w.mu.Unlock()
	}
	if at != 0 && n == at && pid != 0 {
		w.killed.Store(true)
		// SIGKILL by pid: the child is not reaped before Wait returns, so the pid is still its own.
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	}
}

func isKubeWrite(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	return !strings.HasPrefix(r.URL.Path, "/apis/authorization.k8s.io/") && !strings.HasPrefix(r.URL.Path, "/apis/authentication.k8s.io/")
}

func newCrashWorld(ctx context.Context, t *testing.T) *crashWorld {
	w := &crashWorld{srv: startAPIServer(ctx, t)}
	w.admin = w.srv.Clientset()
	createOrKeep(t, func() error {
		_, err := w.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: crashNS}}, metav1.CreateOptions{})
		return err
	})
	target, err := url.Parse(w.srv.RESTConfig().Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(w.srv.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = rt
	kp := httptest.NewServer(&fakegcp.Middleware{Next: rp, IsWrite: isKubeWrite, AfterWrite: w.afterWrite})
	t.Cleanup(kp.Close)
	w.gcp = fakegcp.New()
	t.Cleanup(w.gcp.Close)
	gp := httptest.NewServer(&fakegcp.Middleware{Next: w.gcp, IsWrite: fakegcp.IsGoogleWrite, AfterWrite: w.afterWrite})
	t.Cleanup(gp.Close)
	w.gcpURL = gp.URL
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: kp.URL}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts[crashContext] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: crashNS}
	cfg.CurrentContext = crashContext
	w.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, w.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return w
}

// state dumps what the fixes touch, normalised (ids, etags and resourceVersions left out).
func (w *crashWorld) state(ctx context.Context, t *testing.T) string {
	t.Helper()
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, z := range w.gcp.ManagedZones(crashProject) {
		add("zone %s %s", z.Name, z.DnsName)
		for _, rr := range w.gcp.RRSets(crashProject, z.Name) {
			if rr.Type != "SOA" && rr.Type != "NS" {
				add("  rr %s %s %d %v", rr.Name, rr.Type, rr.Ttl, rr.Rrdatas)
			}
		}
	}
	for _, f := range w.gcp.Firewalls(crashProject) {
		add("firewall %s %v %v %v", f.Name, f.SourceRanges, f.TargetTags, len(f.Allowed))
	}
	for _, b := range w.gcp.IamPolicy(crashProject).Bindings {
		m := append([]string(nil), b.Members...)
		sort.Strings(m)
		add("binding %s %v", b.Role, m)
	}
	for _, pn := range [][2]string{{crashProject, "default"}, {"partner-data", "partner-vpc"}} {
		n, _ := w.gcp.Network(pn[0], pn[1])
		for _, pe := range n.Peerings {
			add("peering %s/%s export=%t import=%t", pn[1], pe.Name, pe.ExportCustomRoutes, pe.ImportCustomRoutes)
		}
	}
	svcs, err := w.admin.CoreV1().Services(crashNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		add("service %s %s", s.Name, s.Spec.Type)
	}
	secs, err := w.admin.CoreV1().Secrets(crashNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs.Items {
		add("secret %s", s.Name)
	}
	roles, _ := w.admin.RbacV1().Roles(crashNS).List(ctx, metav1.ListOptions{})
	for _, r := range roles.Items {
		add("role %s", r.Name)
	}
	rbs, _ := w.admin.RbacV1().RoleBindings(crashNS).List(ctx, metav1.ListOptions{})
	for _, r := range rbs.Items {
		add("rolebinding %s", r.Name)
	}
	deps, _ := w.admin.AppsV1().Deployments(crashNS).List(ctx, metav1.ListOptions{})
	for _, d := range deps.Items {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				add("deployment %s volume %s secret %s", d.Name, v.Name, v.Secret.SecretName)
			}
		}
	}
	if cm, err := w.admin.CoreV1().ConfigMaps("kube-system").Get(ctx, "ip-masq-agent", metav1.GetOptions{}); err == nil {
		add("configmap ip-masq-agent %q", cm.Data["config"])
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// runChild applies case name in a child process, killed at write killAt (0: never). It reports
// whether the kill happened (false: the fix finished first).
func (w *crashWorld) runChild(t *testing.T, name string, killAt int32) bool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+name, crashKubeEnv+"="+w.kubeconfig, "GKEDOCTOR_GCP_ENDPOINT="+w.gcpURL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	w.mu.Lock()
	w.writes.Store(0)
	w.killed.Store(false)
	w.killAt, w.pid, w.exited, w.log = killAt, 0, make(chan struct{}), nil
	exited := w.exited
	w.mu.Unlock()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.pid = cmd.Process.Pid
	w.mu.Unlock()
	werr := cmd.Wait()
	close(exited)
	w.mu.Lock()
	w.killAt, w.pid = 0, 0
	log := strings.Join(w.log, "\n")
	w.mu.Unlock()
	if w.killed.Load() {
		return true
	}
	if werr != nil {
		t.Fatalf("%s: the child failed without being killed: %v\n%s\nwrites:\n%s", name, werr, stderr.String(), log)
	}
	return false
}

func TestKilledAfterEachWriteUndoRestores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver and child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	w := newCrashWorld(ctx, t)
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", w.gcpURL)
	total := 0
	for _, c := range crashCases() {
		t.Run(c.name, func(t *testing.T) {
			c.seedGCP(w.gcp)
			if c.seedKube != nil {
				c.seedKube(ctx, t, w.admin)
			}
			before := w.state(ctx, t)
			for n := int32(1); ; n++ {
				t.Setenv("XDG_STATE_HOME", t.TempDir())
				killed := w.runChild(t, c.name, n)
				if killed {
					if mid := w.state(ctx, t); mid == before {
						t.Fatalf("killed after write %d, yet nothing changed: the kill came too early", n)
					}
				}
				code, out, stderr := run(t, "undo", "--last", "--kubeconfig", w.kubeconfig)
				if code != 0 {
					t.Fatalf("killed=%t after write %d: undo exit %d\n%s%s", killed, n, code, out, stderr)
				}
				if after := w.state(ctx, t); after != before {
					t.Fatalf("killed=%t after write %d: undo did not restore the prior state:\nbefore:\n%s\nafter:\n%s\nundo said:\n%s", killed, n, before, after, out)
				}
				if !killed {
					t.Logf("%s: %d write(s), each killed and undone, then a complete run undone", c.name, n-1)
					total += int(n - 1)
					return
				}
				if n == 1 && !strings.Contains(out, "did not finish (pending)") {
					t.Errorf("undo of a killed fix does not say it was unfinished:\n%s", out)
				}
			}
		})
	}
	t.Logf("%d fixes, %d kill points", len(crashCases()), total)
}
