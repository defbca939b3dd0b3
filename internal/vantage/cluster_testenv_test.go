package vantage

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeKubelet plays the kubelet the test bed lacks: it watches the namespace for probe pods, runs
// their plan (from the container's --plan-json argument) from this process against loopback, keeps
// the printed result as the pod's log, and sets the pod's phase. mode says what it does:
// "run" (Succeeded with the result), "fail" (Failed, garbage on the log), "hang" (nothing).
type fakeKubelet struct {
	kc   kubernetes.Interface
	ns   string
	mode string

	mu   sync.Mutex
	logs map[string][]byte
	seen []*corev1.Pod
}

func (k *fakeKubelet) start(ctx context.Context, t *testing.T) {
	k.logs = map[string][]byte{}
	go func() {
		for ctx.Err() == nil {
			l, err := k.kc.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelProbe + "=true"})
			if err == nil {
				for i := range l.Items {
					k.handle(ctx, t, &l.Items[i])
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

func (k *fakeKubelet) handle(ctx context.Context, t *testing.T, p *corev1.Pod) {
	k.mu.Lock()
	_, done := k.logs[p.Name]
	if !done {
		k.seen = append(k.seen, p.DeepCopy())
		k.logs[p.Name] = nil
	}
	k.mu.Unlock()
	if done || k.mode == "hang" {
		return
	}
	var out []byte
	phase := corev1.PodSucceeded
	if k.mode == "fail" {
		out, phase = []byte("exec /gkedoctor: exec format error\n"), corev1.PodFailed
	} else {
		args := p.Spec.Containers[0].Args
		var plan probe.Plan
		for i := range args {
			if args[i] == "--plan-json" && i+1 < len(args) {
				if err := json.Unmarshal([]byte(args[i+1]), &plan); err != nil {
					t.Errorf("pod's plan: %v", err)
				}
			}
		}
		rep := probe.Run(ctx, plan, probe.Vantage{Name: "kubelet-played", Dialer: probe.LoopbackOnlyDialer{}})
		b, _ := json.Marshal(rep)
		out = append([]byte("starting\n"), b...)
	}
	k.mu.Lock()
	k.logs[p.Name] = out
	k.mu.Unlock()
	p.Status.Phase = phase
	_, _ = k.kc.CoreV1().Pods(k.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

func (k *fakeKubelet) log(_ context.Context, _, name string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.logs[name], nil
}

func clusterVantage(t *testing.T, srv *testenv.APIServer, ns string, readOnly bool) (*Cluster, kubernetes.Interface) {
	t.Helper()
	c, err := kube.FromConfig(srv.RESTConfig(), kube.Resolved{Context: testenv.KubeconfigContext, Namespace: ns}, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	a := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), ReadOnly: readOnly, Deps: &fixes.Deps{Kube: c.Clientset}}
	return &Cluster{Kube: c.Clientset, Applier: a, Namespace: ns, Image: "ghcr.io/gkedoctor/gkedoctor:test",
		Check: "clusterip-unreachable", Deadline: 20 * time.Second, Poll: 50 * time.Millisecond}, c.Clientset
}

func tcpPlan(t *testing.T) (probe.Plan, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return probe.Plan{SchemaVersion: 1, Probes: []probe.Probe{{Kind: "tcp", ID: "svc", Addr: ln.Addr().String()}}}, ln.Addr().String()
}

func podGone(t *testing.T, kc kubernetes.Interface, ns, name string) {
	t.Helper()
	_, err := kc.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("probe pod %s/%s still exists after the run (err %v)", ns, name, err)
	}
}

// TestClusterVantageOnRealAPIServer: the probe pod is created with the planned spec, its result is read
// back, and it is deleted on success, failure, timeout and cancellation; a read-only run creates nothing.
func TestClusterVantageOnRealAPIServer(t *testing.T) {
	srv := testenv.Shared(t)
	for _, mode := range []string{"run", "fail", "hang", "cancel"} {
		t.Run(mode, func(t *testing.T) {
			ns := srv.NewNamespace(t)
			v, admin := clusterVantage(t, srv, ns, false)
			kl := &fakeKubelet{kc: admin, ns: ns, mode: mode}
			if mode == "cancel" {
				kl.mode = "hang"
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kl.start(ctx, t)
			v.Logs = kl.log
			if mode == "hang" {
				v.Deadline = 2 * time.Second
			}
			runCtx, runCancel := context.WithCancel(ctx)
			defer runCancel()
			if mode == "cancel" {
				go func() {
					for {
						kl.mu.Lock()
						n := len(kl.seen)
						kl.mu.Unlock()
						if n > 0 {
							runCancel()
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}
			plan, addr := tcpPlan(t)
			obs := v.Run(runCtx, plan)
			kl.mu.Lock()
			seen := kl.seen
			kl.mu.Unlock()
			if len(seen) != 1 {
				t.Fatalf("%d probe pods created, want 1: %+v", len(seen), obs)
			}
			p := seen[0]
			podGone(t, admin, ns, p.Name)
			if obs.Cleanup != "deleted" {
				t.Errorf("cleanup = %q", obs.Cleanup)
			}
			// The planned spec reached the API server.
			c := p.Spec.Containers[0]
			if c.Image != v.Image || c.Args[0] != "probe" || !strings.Contains(strings.Join(c.Args, " "), addr) ||
				p.Spec.RestartPolicy != corev1.RestartPolicyNever || p.Spec.ActiveDeadlineSeconds == nil ||
				*p.Spec.AutomountServiceAccountToken || !*p.Spec.SecurityContext.RunAsNonRoot ||
				*c.SecurityContext.AllowPrivilegeEscalation || !*c.SecurityContext.ReadOnlyRootFilesystem ||
				p.Labels[LabelProbe] != "true" || p.Annotations[AnnotationExpires] == "" {
				t.Errorf("probe pod spec not as planned: %+v", p.Spec)
			}
			e, err := v.Applier.Journal.Get(obs.Journal)
			if err != nil || e.State != fixes.StateUndone {
				t.Errorf("journal entry %s: %v state %v", obs.Journal, err, e)
			}
			switch mode {
			case "run":
				if obs.Error != "" || obs.Report == nil || len(obs.Report.Results) != 1 || !obs.Report.Results[0].OK {
					t.Fatalf("run: %+v", obs)
				}
				if !strings.Contains(obs.Vantage, "pod "+ns+"/gkedoctor-probe-") {
					t.Errorf("vantage %q", obs.Vantage)
				}
			case "fail":
				if obs.Report != nil || !strings.Contains(obs.Error, "probe pod failed") || !strings.Contains(obs.Error, "exec format error") {
					t.Errorf("fail: %+v", obs)
				}
			case "hang":
				if obs.Report != nil || !strings.Contains(obs.Error, "did not finish (timed out") {
					t.Errorf("hang: %+v", obs)
				}
			case "cancel":
				if obs.Report != nil || !strings.Contains(obs.Error, "cancelled") {
					t.Errorf("cancel: %+v", obs)
				}
			}
		})
	}
	t.Run("read-only", func(t *testing.T) {
		ns := srv.NewNamespace(t)
		v, admin := clusterVantage(t, srv, ns, true)
		plan, _ := tcpPlan(t)
		obs := v.Run(context.Background(), plan)
		if obs.Error == "" || obs.Report != nil {
			t.Fatalf("read-only run created a vantage point: %+v", obs)
		}
		l, err := admin.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("read-only: %v pods %d", err, len(l.Items))
		}
	})
}

// TestSweepLeftovers: a probe pod a killed run left (its deadline passed) is deleted by the next run's
// sweep; one still in its time, and pods that are not gkedoctor's, are left alone.
func TestSweepLeftovers(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	v, admin := clusterVantage(t, srv, ns, false)
	plan, _ := tcpPlan(t)
	ctx := context.Background()
	mk := func(name string, expires time.Time, labelled bool) {
		p, err := v.PodSpec(name, plan, expires.Add(-v.deadline()))
		if err != nil {
			t.Fatal(err)
		}
		if !labelled {
			p.Labels = map[string]string{"app": "other"}
		}
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	mk("gkedoctor-probe-killed", now.Add(-time.Minute), true)
	mk("gkedoctor-probe-running", now.Add(time.Minute), true)
	mk("someone-elses", now.Add(-time.Minute), false)
	gone, err := SweepCluster(ctx, admin, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0] != ns+"/gkedoctor-probe-killed" {
		t.Fatalf("swept %v", gone)
	}
	podGone(t, admin, ns, "gkedoctor-probe-killed")
	for _, n := range []string{"gkedoctor-probe-running", "someone-elses"} {
		if _, err := admin.CoreV1().Pods(ns).Get(ctx, n, metav1.GetOptions{}); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// TestPodSpecAsServiceAccount: --probe-service-account runs the pod as that ServiceAccount with its
// token mounted (the token check's view); without it no token is mounted.
func TestPodSpecAsServiceAccount(t *testing.T) {
	plan := probe.Plan{SchemaVersion: 1, Probes: []probe.Probe{{Kind: "tcp", Addr: "127.0.0.1:9"}}}
	c := &Cluster{Namespace: "default", Image: "img", ServiceAccount: "environment-manager"}
	p, err := c.PodSpec("gkedoctor-probe-x", plan, time.Now())
	if err != nil || p.Spec.ServiceAccountName != "environment-manager" || !*p.Spec.AutomountServiceAccountToken {
		t.Fatalf("%v %+v", err, p.Spec)
	}
	c.ServiceAccount = ""
	p, _ = c.PodSpec("gkedoctor-probe-x", plan, time.Now())
	if p.Spec.ServiceAccountName != "" || *p.Spec.AutomountServiceAccountToken {
		t.Fatalf("%+v", p.Spec)
	}
}
