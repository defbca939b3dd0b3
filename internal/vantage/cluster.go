package vantage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// undoDeleteProbePod is the cleanup of a probe pod, journaled before the pod is created.
const undoDeleteProbePod = "delete-probe-pod"

func init() { fixes.RegisterUndoer(undoDeleteProbePod, undoDeleteProbePodFn) }

type probePodRef struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid,omitempty"`
}

// undoDeleteProbePod deletes the pod at once (no grace period: it holds nothing). A pod already gone
// is fine: cleanup is idempotent. With a UID, a different pod of the same name is left alone.
func undoDeleteProbePodFn(ctx context.Context, deps *fixes.Deps, params json.RawMessage) error {
	var r probePodRef
	if err := json.Unmarshal(params, &r); err != nil {
		return err
	}
	if deps.Kube == nil {
		return apierr.NotConfiguredf("a kubeconfig for the cluster", "cannot delete probe pod %s/%s: no Kubernetes client", r.Namespace, r.Name)
	}
	opts := metav1.DeleteOptions{GracePeriodSeconds: new(int64)}
	if r.UID != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &r.UID}
	}
	err := deps.Kube.CoreV1().Pods(r.Namespace).Delete(ctx, r.Name, opts)
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) { // another pod now has the name: not ours
		return nil
	}
	return kube.Map(err, "delete", "pod "+r.Namespace+"/"+r.Name)
}

// Cluster runs a probe plan from an ephemeral pod in the cluster.
type Cluster struct {
	Kube      kubernetes.Interface
	Applier   *fixes.Applier
	Namespace string
	Image     string
	// ServiceAccount runs the pod as the workload's ServiceAccount (the token check); "" runs it
	// as the namespace's default with no token mounted.
	ServiceAccount string
	// HostNetwork gives the node's vantage instead of the pod's; NodePool pins it to a node pool.
	HostNetwork bool
	NodePool    string
	Deadline    time.Duration // 0: DefaultDeadline
	Poll        time.Duration // 0: 1 s
	// Logs reads the pod's output; nil reads pods/log. (A test bed without a kubelet plays it.)
	Logs func(ctx context.Context, ns, name string) ([]byte, error)
	// Check names the check the probe is for, in the journal.
	Check string
	Now   func() time.Time
}

func (c *Cluster) from() string {
	if c.HostNetwork {
		return FromNode
	}
	return FromCluster
}

func (c *Cluster) deadline() time.Duration {
	if c.Deadline > 0 {
		return c.Deadline
	}
	return DefaultDeadline
}

// PodSpec is the pod the vantage point creates for plan: non-root, read-only, no privilege, no token
// unless the workload's ServiceAccount is asked for, a hard deadline, and the labels a sweep finds.
func (c *Cluster) PodSpec(name string, plan probe.Plan, now time.Time) (*corev1.Pod, error) {
	pj, err := planJSON(plan)
	if err != nil {
		return nil, err
	}
	secs := int64(c.deadline() / time.Second)
	vantage := fmt.Sprintf("pod %s/%s", c.Namespace, name)
	if c.HostNetwork {
		vantage = fmt.Sprintf("hostNetwork pod %s/%s (the node's view)", c.Namespace, name)
	}
	automount := c.ServiceAccount != ""
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelProbe: "true"},
			Annotations: map[string]string{AnnotationExpires: now.Add(c.deadline()).UTC().Format(time.RFC3339),
				"gkedoctor.dev/check": c.Check}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &secs,
			AutomountServiceAccountToken:  &automount,
			ServiceAccountName:            c.ServiceAccount,
			HostNetwork:                   c.HostNetwork,
			TerminationGracePeriodSeconds: new(int64),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name:  "probe",
				Image: c.Image,
				Args:  []string{"probe", "--plan-json", pj, "--vantage", vantage},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	if c.NodePool != "" {
		pod.Spec.NodeSelector = map[string]string{"cloud.google.com/gke-nodepool": c.NodePool}
	}
	if c.HostNetwork {
		pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	return pod, nil
}

// Preview says what Run will create.
func (c *Cluster) Preview() Preview {
	what := "a pod gkedoctor-probe-XXXXXX running " + c.Image + " (non-root, read-only, no service account token)"
	if c.ServiceAccount != "" {
		what = "a pod gkedoctor-probe-XXXXXX running " + c.Image + " as ServiceAccount " + c.ServiceAccount
	}
	if c.HostNetwork {
		what = "a hostNetwork pod gkedoctor-probe-XXXXXX running " + c.Image + " (the node's network view)"
	}
	return Preview{From: c.from(), What: what, Where: "namespace " + c.Namespace,
		Deadline: fmt.Sprintf("at most %s (activeDeadlineSeconds); deleted afterwards, whatever happens", c.deadline()),
		Cost:     "no charge beyond the node's (10m CPU, 32Mi memory requested)",
		Commands: []string{fmt.Sprintf("kubectl run gkedoctor-probe --rm -i --restart=Never -n %s --image %s -- probe …", c.Namespace, c.Image)}}
}

// Run creates the pod (journaled first), waits for it to finish, reads its result and deletes it.
func (c *Cluster) Run(ctx context.Context, plan probe.Plan) (obs Observation) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	name := "gkedoctor-probe-" + randomSuffix()
	obs = Observation{From: c.from(), Vantage: fmt.Sprintf("pod %s/%s", c.Namespace, name)}
	if c.HostNetwork {
		obs.Vantage = fmt.Sprintf("hostNetwork pod %s/%s (the node's view)", c.Namespace, name)
	}
	pod, err := c.PodSpec(name, plan, now())
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	ctx, cancel := context.WithTimeout(ctx, c.deadline())
	defer cancel()
	ref := probePodRef{Namespace: c.Namespace, Name: name}
	p := &fixes.Plan{
		ID: "probe-pod/" + c.Namespace + "/" + name, Check: c.Check,
		Title:         "Create probe pod " + c.Namespace + "/" + name,
		Reversible:    true,
		JudgedAgainst: []string{"a new pod " + c.Namespace + "/" + name + " only (deleted after the probe); no existing object changes"},
		Commands:      c.Preview().Commands,
		Snapshot: func(context.Context) (fixes.Snapshot, error) {
			return fixes.Snapshot{Prior: []fixes.Object{{API: "kubernetes", Kind: "Pod", Name: c.Namespace + "/" + name, Absent: true}},
				Undo: []fixes.UndoAction{fixes.NewUndo(undoDeleteProbePod, ref)}}, nil
		},
		Apply: func(ctx context.Context, _ fixes.Snapshot) (fixes.Outcome, error) {
			created, err := c.Kube.CoreV1().Pods(c.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				return fixes.Outcome{}, kube.Map(err, "create", "pod "+c.Namespace+"/"+name)
			}
			r := ref
			r.UID = created.UID
			return fixes.Outcome{Message: "created pod " + c.Namespace + "/" + name,
				Created: []fixes.Object{{API: "kubernetes", Kind: "Pod", Name: c.Namespace + "/" + name, Version: created.ResourceVersion}},
				Undo:    []fixes.UndoAction{fixes.NewUndo(undoDeleteProbePod, r)}}, nil
		},
	}
	applied, err := c.Applier.Apply(ctx, p, nil)
	if applied != nil && applied.Entry != nil {
		obs.Journal = applied.Entry.ID
	}
	defer func() { obs.Cleanup = cleanup(ctx, c.Applier, applied) }()
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	obs.Created = "pod " + c.Namespace + "/" + name
	final, err := c.wait(ctx, name)
	if final != nil && final.Spec.NodeName != "" {
		obs.Vantage += " on node " + final.Spec.NodeName
	}
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	log, err := c.logs(ctx, name)
	if err != nil {
		obs.Error = "read the probe pod's log: " + err.Error()
		return obs
	}
	rep, err := parseReport(log)
	if err != nil {
		obs.Error = err.Error()
		if final != nil && final.Status.Phase == corev1.PodFailed {
			obs.Error = "the probe pod failed (" + podReason(final) + "): " + err.Error()
		}
		return obs
	}
	rep.Vantage = obs.Vantage
	obs.Report = rep
	return obs
}

// wait polls the pod until it has finished (Succeeded or Failed), bounded by ctx.
func (c *Cluster) wait(ctx context.Context, name string) (*corev1.Pod, error) {
	poll := c.Poll
	if poll <= 0 {
		poll = time.Second
	}
	var last *corev1.Pod
	for {
		p, err := c.Kube.CoreV1().Pods(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = p
			switch p.Status.Phase {
			case corev1.PodSucceeded, corev1.PodFailed:
				return p, nil
			}
		} else if apierrors.IsNotFound(err) {
			return last, fmt.Errorf("the probe pod %s/%s disappeared before it finished", c.Namespace, name)
		}
		select {
		case <-ctx.Done():
			why := "timed out"
			if ctx.Err() == context.Canceled {
				why = "cancelled"
			}
			state := "not scheduled"
			if last != nil {
				state = string(last.Status.Phase) + " " + podReason(last)
			}
			return last, fmt.Errorf("the probe pod %s/%s did not finish (%s; last seen %s)", c.Namespace, name, why, strings.TrimSpace(state))
		case <-time.After(poll):
		}
	}
}

func podReason(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if w := s.State.Waiting; w != nil {
			return w.Reason + ": " + w.Message
		}
		if t := s.State.Terminated; t != nil {
			return fmt.Sprintf("%s, exit %d", t.Reason, t.ExitCode)
		}
	}
	return p.Status.Reason
}

const maxLog = 1 << 20

func (c *Cluster) logs(ctx context.Context, name string) ([]byte, error) {
	if c.Logs != nil {
		return c.Logs(ctx, c.Namespace, name)
	}
	rc, err := c.Kube.CoreV1().Pods(c.Namespace).GetLogs(name, &corev1.PodLogOptions{Container: "probe"}).Stream(ctx)
	if err != nil {
		return nil, kube.Map(err, "get", "pods/log "+c.Namespace+"/"+name)
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxLog))
}

// SweepCluster deletes probe pods a killed run left behind: those labelled as gkedoctor's probes
// whose deadline has passed. It returns what it deleted.
func SweepCluster(ctx context.Context, kc kubernetes.Interface, now time.Time) ([]string, error) {
	l, err := kc.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: LabelProbe + "=true," + LabelManagedBy + "=" + ManagedBy})
	if err != nil {
		return nil, kube.Map(err, "list", "pods (all namespaces)")
	}
	var gone []string
	for _, p := range l.Items {
		exp, err := time.Parse(time.RFC3339, p.Annotations[AnnotationExpires])
		if err == nil && now.Before(exp) {
			continue // another run's, still in its time
		}
		uid := p.UID
		err = kc.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64),
			Preconditions: &metav1.Preconditions{UID: &uid}})
		if err == nil || apierrors.IsNotFound(err) {
			gone = append(gone, p.Namespace+"/"+p.Name)
		}
	}
	return gone, nil
}

func ptr[T any](v T) *T { return &v }
