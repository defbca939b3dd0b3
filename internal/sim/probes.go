package sim

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	nm "google.golang.org/api/networkmanagement/v1"
	run "google.golang.org/api/run/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The vantage points of `gkedoctor check --from …` inside the world: a probe pod "runs" on a node
// of the simulated cluster and a probe job "runs" with its Cloud Run service's VPC access — each
// runs the plan it was started with (`gkedoctor probe --plan-json …`) through the world's network
// (DialerFrom) and DNS (the cluster's resolver for pods, the VPC's for Cloud Run), and prints the
// result where the tool reads it: the pod's log, the job execution's log entries. Connectivity tests
// are analysed from the same state (Reach).

// Labels the vantage package puts on what it creates (kept literal here: sim does not import it).
const (
	probeLabel          = "gkedoctor.dev/probe"
	probeAsServiceLabel = "gkedoctor-as-service"
)

// probePods runs probe pods; it remembers each pod's output for pods/log.
type probePods struct {
	mu      sync.Mutex
	started map[types.UID]bool
	logs    map[string]string // ns/name → output
}

func (w *World) probeState() *probePods {
	w.probesOnce.Do(func() { w.probes = &probePods{started: map[types.UID]bool{}, logs: map[string]string{}} })
	return w.probes
}

// probeLog is a probe pod's output, when it is one.
func (w *World) probeLog(ns, name string) (string, bool) {
	ps := w.probeState()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out, ok := ps.logs[ns+"/"+name]
	return out, ok
}

// runProbePods starts the pods labelled as gkedoctor's probes that have not run yet (called from the
// kubelet's reconcile); each runs on its own goroutine, as containers do.
func (w *World) runProbePods(ctx context.Context, pods []corev1.Pod, pick func([]corev1.Pod) string) {
	ps := w.probeState()
	for i := range pods {
		p := pods[i]
		if p.Labels[probeLabel] != "true" || p.DeletionTimestamp != nil || (p.Status.Phase != "" && p.Status.Phase != corev1.PodPending) {
			continue
		}
		ps.mu.Lock()
		if ps.started[p.UID] {
			ps.mu.Unlock()
			continue
		}
		ps.started[p.UID] = true
		ps.mu.Unlock()
		node := p.Spec.NodeName
		if node == "" {
			node = pick(pods)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.runProbePod(p.DeepCopy(), node)
		}()
	}
}

func (w *World) runProbePod(p *corev1.Pod, node string) {
	ctx, cancel := context.WithTimeout(w.ctx, 2*time.Minute)
	defer cancel()
	k := w.kube
	hostIP, podIP := "", ""
	if n, err := getT[*corev1.Node](k, gvrNodes, "", node); err == nil {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				hostIP = a.Address
			}
		}
		used := map[string]bool{}
		for _, o := range k.pods() {
			used[o.Status.PodIP] = true
		}
		if pfx, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil {
			for a := pfx.Masked().Addr().Next().Next(); pfx.Contains(a); a = a.Next() {
				if !used[a.String()] {
					podIP = a.String()
					break
				}
			}
		}
	}
	if p.Spec.HostNetwork {
		podIP = hostIP
	}
	// Scheduled and running: the container starts.
	p.Spec.NodeName = node
	if _, err := k.rw.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{}); err == nil {
		if cur, err := getT[*corev1.Pod](k, gvrPods, p.Namespace, p.Name); err == nil {
			p = cur.DeepCopy()
		}
	}
	p.Status.Phase, p.Status.PodIP, p.Status.HostIP = corev1.PodRunning, podIP, hostIP
	p.Status.StartTime = ptr(metav1.NewTime(time.Now().Truncate(time.Second)))
	if upd, err := k.rw.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
		p = upd
	} else {
		return // deleted meanwhile
	}
	out, ok := w.runProbeArgs(ctx, containerArgs(p.Spec.Containers), probe.Vantage{
		Dialer: w.DialerFrom("pod/" + p.Namespace + "/" + p.Name), DNSDialer: w.loopback,
		Resolver: w.clusterDNS.Addr, ResolverWhy: "the pod's resolver (kube-dns / Cloud DNS for GKE)"})
	ps := w.probeState()
	ps.mu.Lock()
	ps.logs[p.Namespace+"/"+p.Name] = out
	ps.mu.Unlock()
	exit := int32(0)
	p.Status.Phase = corev1.PodSucceeded
	if !ok {
		p.Status.Phase, exit = corev1.PodFailed, 2
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "probe", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: map[bool]string{true: "Completed", false: "Error"}[ok]}}}}
	_, _ = k.rw.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

func containerArgs(cs []corev1.Container) []string {
	if len(cs) == 0 {
		return nil
	}
	return cs[0].Args
}

// runProbeArgs runs `gkedoctor probe --plan-json PLAN --vantage NAME` as the container would and
// returns what it prints; ok is false when the arguments are not a plan (the container would exit 2).
func (w *World) runProbeArgs(ctx context.Context, args []string, v probe.Vantage) (string, bool) {
	var planJSON string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--plan-json":
			planJSON = args[i+1]
		case "--vantage":
			v.Name = args[i+1]
		}
	}
	if len(args) == 0 || args[0] != "probe" || planJSON == "" {
		return "gkedoctor: this demo image runs only `gkedoctor probe --plan-json …`\n", false
	}
	plan, err := probe.ParsePlan(strings.NewReader(planJSON))
	if err != nil {
		return "gkedoctor: --plan-json: " + err.Error() + "\n", false
	}
	rep := probe.Run(ctx, plan, v)
	b, _ := json.MarshalIndent(rep, "", "  ")
	return string(b) + "\n", true
}

// runProbeJob plays a Cloud Run job execution: the container runs with the VPC access of the service
// it was made from (its gkedoctor-as-service label names it).
func (w *World) runProbeJob(job *run.GoogleCloudRunV2Job) fakegcp.JobRun {
	tmpl := job.Template.Template
	svc := job.Labels[probeAsServiceLabel]
	if svc == "" {
		svc = CloudRunService
	}
	out, ok := w.runProbeArgs(w.ctx, containerArgs2(tmpl.Containers), probe.Vantage{
		Dialer: w.DialerFrom("cloud-run/" + svc), DNSDialer: w.loopback,
		Resolver: w.vpcDNS.Addr, ResolverWhy: "the Cloud Run instance's resolver (the VPC resolver, 169.254.169.254)"})
	return fakegcp.JobRun{Lines: strings.Split(strings.TrimRight(out, "\n"), "\n"), Succeeded: ok}
}

func containerArgs2(cs []*run.GoogleCloudRunV2Container) []string {
	if len(cs) == 0 || cs[0] == nil {
		return nil
	}
	return cs[0].Args
}

// analyseConnectivity answers a connectivity test from the world's state: the source is a Cloud Run
// revision of one of its services (or an IP of a node), the destination an IP and port.
func (w *World) analyseConnectivity(t *nm.ConnectivityTest) *nm.ReachabilityDetails {
	src := ""
	switch {
	case t.Source.CloudRunRevision != nil:
		rev := t.Source.CloudRunRevision.Uri[strings.LastIndex(t.Source.CloudRunRevision.Uri, "/")+1:]
		// A revision is SERVICE-0000N-xyz.
		if parts := strings.Split(rev, "-"); len(parts) >= 3 {
			src = "cloud-run/" + strings.Join(parts[:len(parts)-2], "-")
		}
	case t.Source.IpAddress != "":
		if ip, err := netip.ParseAddr(t.Source.IpAddress); err == nil {
			if n, ok := w.nodeByIP(ip); ok {
				src = "node/" + n
			}
		}
	}
	if src == "" || t.Destination.IpAddress == "" {
		return &nm.ReachabilityDetails{Result: "UNDETERMINED", Error: &nm.Status{Message: "source or destination not in this project's configuration"}}
	}
	port := t.Destination.Port
	if port == 0 {
		port = 80
	}
	r := w.Reach(src, net.JoinHostPort(t.Destination.IpAddress, strconv.Itoa(int(port))))
	start := &nm.Step{State: "START_FROM_PRIVATE_NETWORK", Description: src}
	if strings.HasPrefix(src, "cloud-run/") {
		start.State = "START_FROM_CLOUD_RUN_REVISION"
	}
	if r.Outcome == Connected {
		return &nm.ReachabilityDetails{Result: "REACHABLE", Traces: []*nm.Trace{{Steps: []*nm.Step{start,
			{State: "DELIVER", Description: r.Reason}}}}}
	}
	return &nm.ReachabilityDetails{Result: "UNREACHABLE", Traces: []*nm.Trace{{Steps: []*nm.Step{start,
		{State: "DROP", Description: r.Reason, CausesDrop: true}}}}}
}
