package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run is one measured process run.
type run struct {
	wall  time.Duration
	rssKB int64
	// anonKB and fileKB are the largest RssAnon (heap, stacks, written data) and RssFile (pages of the
	// binary and libraries mapped from the page cache, shared and reclaimable) sampled: together they
	// make VmRSS, whose high-water mark is rssKB.
	anonKB, fileKB int64
}

func measure(b *testing.B, name string, args ...string) run {
	b.Helper()
	return measureEvery(b, 2*time.Millisecond, name, args...)
}

// measureEvery runs name once, sampling its VmHWM every poll (short-lived programs need a short poll:
// the last sample before exit is the peak).
func measureEvery(b *testing.B, poll time.Duration, name string, args ...string) run {
	b.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr // stdout discarded, like `> /dev/null`
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// Peak RSS from the child's own VmHWM, sampled until it exits. wait4's ru_maxrss cannot be used:
	// Linux carries the high-water mark across execve, so it would report the forked copy of this
	// (large) test process instead of the program measured.
	done := make(chan struct{})
	var hwm, anon, file int64
	go func() {
		defer close(done)
		path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			m := procStatus(path, "VmHWM", "RssAnon", "RssFile")
			if m == nil {
				return
			}
			hwm, anon, file = max(hwm, m["VmHWM"]), max(anon, m["RssAnon"]), max(file, m["RssFile"])
			time.Sleep(poll)
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	<-done
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			b.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.String())
		}
	}
	return run{wall: wall, rssKB: hwm, anonKB: anon, fileKB: file}
}

// procStatus reads the named fields (kB) from a /proc status file; nil when the process is gone (or
// a zombie, which has no VmHWM).
func procStatus(path string, fields ...string) map[string]int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains(fields, name) {
			continue
		}
		var kb int64
		fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
		out[name] = kb
	}
	if _, ok := out["VmHWM"]; !ok {
		return nil
	}
	return out
}

func median(b *testing.B, n int, name string, args ...string) run {
	var rs []run
	for i := 0; i < n; i++ {
		rs = append(rs, measure(b, name, args...))
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	m := rs[len(rs)/2]
	for _, r := range rs {
		m.rssKB, m.anonKB, m.fileKB = max(m.rssKB, r.rssKB), max(m.anonKB, r.anonKB), max(m.fileKB, r.fileKB)
	}
	return m
}

func buildGkedoctor(b *testing.B) string {
	b.Helper()
	// Not b.TempDir: the binary outlives the first invocation of the benchmark function (b.N = 1), whose
	// temp dir is removed before the measured one runs. One fixed path, overwritten by every run.
	out := filepath.Join(os.TempDir(), "gkedoctor-bench", "gkedoctor")
	// Built as released (.goreleaser.yaml): static, stripped.
	cmd := exec.Command("go", "build", "-trimpath", "-tags=grpcnotrace", "-ldflags", "-s -w", "-o", out, "github.com/gkedoctor/gkedoctor/cmd/gkedoctor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build gkedoctor: %v\n%s", err, msg)
	}
	return out
}

// createServices brings namespace ns up to n Services. The services range (34.118.224.0/20, as on
// GKE) holds 4,094 ClusterIPs, so Services beyond 3,000 are headless: still Services kubectl lists.
func createServices(b *testing.B, cs kubernetes.Interface, ns string, from, to int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				s := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%05d", i), Labels: map[string]string{"app": "bench"},
						Annotations: map[string]string{"description": "a Service created by the gkedoctor benchmark to give the list some weight"}},
					Spec: corev1.ServiceSpec{Selector: map[string]string{"app": fmt.Sprintf("app-%d", i)},
						Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
				}
				if i >= 3000 {
					s.Spec.ClusterIP = corev1.ClusterIPNone
				}
				if _, err := cs.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("create Services: %v", firstErr)
	}
}

type point struct {
	n           int
	gk, kubectl run
}

type servicesRun struct {
	gk, ns  string
	points  []point
	printed bool
}

var (
	servicesOnce   sync.Once
	servicesPoints *servicesRun
)

func measureServices(b *testing.B, srv *testenv.APIServer, kubectl string) *servicesRun {
	gk := buildGkedoctor(b)
	cs := srv.Clientset()
	ns := "bench"
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	r := &servicesRun{gk: gk, ns: ns}
	have := 0
	for _, n := range []int{1000, 5000} {
		createServices(b, cs, ns, have, n)
		have = n
		kc := median(b, 3, kubectl, "--kubeconfig", srv.KubeconfigPath, "get", "svc", "-A", "-o", "json")
		g := median(b, 3, gk, "audit", "--kubeconfig", srv.KubeconfigPath, "--no-gcp", "--service", ns+"/svc-00000", "-o", "json")
		r.points = append(r.points, point{n: n, gk: g, kubectl: kc})
	}
	return r
}

// BenchmarkAuditVsKubectl compares `gkedoctor audit` (targeting one Service, so it lists every
// Service of the cluster to find load balancers for it) with `kubectl get svc -A -o json` on the same
// real kube-apiserver, at 1,000 and 5,000 Services. Targets (DESIGN §6): wall time under half of
// kubectl's, peak RSS under 100 MiB, linear growth.
func BenchmarkAuditVsKubectl(b *testing.B) {
	kubectl := os.Getenv("GKEDOCTOR_KUBECTL")
	if kubectl == "" {
		b.Skip("GKEDOCTOR_KUBECTL is not set: run `make bench` (it builds kubectl with hack/testbin/build-kubectl.sh)")
	}
	srv := testenv.Shared(b)
	// The benchmark function runs more than once (b.N = 1, then the requested count): measure once.
	servicesOnce.Do(func() { servicesPoints = measureServices(b, srv, kubectl) })
	if servicesPoints == nil {
		b.Fatal("the measurement failed in an earlier run")
	}
	points := servicesPoints.points
	gk, ns := servicesPoints.gk, servicesPoints.ns
	for i := 0; i < b.N; i++ {
		// The measurements above are the benchmark; b.N iterations re-run the audit at full size.
		measure(b, gk, "audit", "--kubeconfig", srv.KubeconfigPath, "--no-gcp", "--service", ns+"/svc-00000", "-o", "json")
	}
	b.StopTimer()
	last := points[len(points)-1]
	growth := (last.gk.wall.Seconds() / float64(last.n)) / (points[0].gk.wall.Seconds() / float64(points[0].n))
	b.ReportMetric(last.gk.wall.Seconds()/last.kubectl.wall.Seconds(), "audit/kubectl")
	b.ReportMetric(float64(last.gk.rssKB)/1024, "audit-RSS-MiB")
	b.ReportMetric(growth, "growth")
	if servicesPoints.printed {
		return
	}
	servicesPoints.printed = true
	fmt.Printf("\n%-10s %14s %14s %8s %12s %12s\n", "services", "gkedoctor", "kubectl", "ratio", "gk RSS", "kubectl RSS")
	for _, p := range points {
		fmt.Printf("%-10d %14s %14s %8.2f %9.1f MiB %9.1f MiB\n", p.n, p.gk.wall.Round(time.Millisecond), p.kubectl.wall.Round(time.Millisecond),
			p.gk.wall.Seconds()/p.kubectl.wall.Seconds(), float64(p.gk.rssKB)/1024, float64(p.kubectl.rssKB)/1024)
	}
	fmt.Printf("targets: ratio < 0.5, gkedoctor RSS < 100 MiB; per-Service time at 5,000 vs 1,000: %.2fx (≤ 1 is linear or better)\n", growth)
}
