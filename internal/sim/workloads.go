package sim

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// workloads plays the parts of kube-controller-manager and the kubelet that fixes lean on: the
// ReplicaSet controller replaces a deleted pod (a "restart" gives a fresh pod, a fresh UID and so
// fresh bound tokens), the kubelet starts it (Pending, then Running and Ready with an IP from its
// node's pod range), and the token controller fills in a legacy token Secret created for a
// ServiceAccount.
type workloads struct {
	w    *World
	loop *loop

	mu       sync.Mutex
	starting map[types.UID]time.Time // pods the kubelet starts, and when they run
}

func newWorkloads(w *World) *workloads { return &workloads{w: w, starting: map[types.UID]time.Time{}} }

func (c *workloads) reconcile(now time.Time) time.Time {
	ctx, cancel := context.WithTimeout(c.w.ctx, 10*time.Second)
	defer cancel()
	var next time.Time
	soon := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	c.deployments(ctx)
	c.replicaSets(ctx, now)
	c.kubelet(ctx, now, soon)
	c.w.runProbePods(ctx, c.w.kube.pods(), c.pickNode)
	c.tokens(ctx)
	return next
}

// replicaSets keeps each ReplicaSet's number of pods.
func (c *workloads) replicaSets(ctx context.Context, now time.Time) {
	k := c.w.kube
	l, err := k.tracker.List(gvrReplicaSets, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), "")
	if err != nil {
		return
	}
	pods := k.pods()
	for _, rs := range l.(*appsv1.ReplicaSetList).Items {
		want := int32(1)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		var owned []corev1.Pod
		for _, p := range pods {
			if p.DeletionTimestamp == nil && ownedBy(&p, rs.UID) {
				owned = append(owned, p)
			}
		}
		for i := int32(len(owned)); i < want; i++ {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{GenerateName: rs.Name + "-", Namespace: rs.Namespace, Labels: rs.Spec.Template.Labels,
					Annotations: rs.Spec.Template.Annotations,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
						Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
				Spec:   *rs.Spec.Template.Spec.DeepCopy(),
				Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable},
			}
			pod.Spec.NodeName = c.pickNode(pods)
			created, err := k.rw.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				continue
			}
			pods = append(pods, *created)
			c.mu.Lock()
			c.starting[created.UID] = now.Add(c.w.after(15 * time.Second))
			c.mu.Unlock()
		}
		if extra := len(owned) - int(want); extra > 0 {
			sort.Slice(owned, func(i, j int) bool { return owned[i].CreationTimestamp.After(owned[j].CreationTimestamp.Time) })
			for _, p := range owned[:extra] {
				_ = k.rw.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			}
		}
	}
}

func ownedBy(p *corev1.Pod, uid types.UID) bool {
	for _, o := range p.OwnerReferences {
		if o.UID == uid && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// pickNode schedules onto the node running the fewest pods.
func (c *workloads) pickNode(pods []corev1.Pod) string {
	count := map[string]int{}
	for _, p := range pods {
		count[p.Spec.NodeName]++
	}
	best := ""
	for _, n := range c.w.kube.nodes() {
		if best == "" || count[n.Name] < count[best] {
			best = n.Name
		}
	}
	return best
}

// kubelet starts the pods the ReplicaSet controller created once their time comes.
func (c *workloads) kubelet(ctx context.Context, now time.Time, soon func(time.Time)) {
	k := c.w.kube
	c.mu.Lock()
	due := map[types.UID]bool{}
	for uid, at := range c.starting {
		if now.Before(at) {
			soon(at)
		} else {
			due[uid] = true
		}
	}
	c.mu.Unlock()
	if len(due) == 0 {
		return
	}
	pods := k.pods()
	used := map[string]bool{}
	for _, p := range pods {
		used[p.Status.PodIP] = true
	}
	for _, p := range pods {
		if !due[p.UID] {
			continue
		}
		node, err := getT[*corev1.Node](k, gvrNodes, "", p.Spec.NodeName)
		var ip, hostIP string
		if err == nil {
			for _, a := range node.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					hostIP = a.Address
				}
			}
			if pfx, perr := netip.ParsePrefix(node.Spec.PodCIDR); perr == nil {
				for a := pfx.Masked().Addr().Next().Next(); pfx.Contains(a); a = a.Next() {
					if !used[a.String()] {
						ip = a.String()
						used[ip] = true
						break
					}
				}
			}
		}
		if p.Spec.HostNetwork {
			ip = hostIP
		}
		seed := &seeder{now: time.Now()}
		running := seed.runningPod(p.ObjectMeta, p.Spec, ip, hostIP)
		running.Status.StartTime = ptr(metav1.NewTime(time.Now().Truncate(time.Second)))
		if _, err := k.rw.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, running, metav1.UpdateOptions{}); err == nil {
			c.mu.Lock()
			delete(c.starting, p.UID)
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	for uid := range due {
		found := false
		for _, p := range pods {
			found = found || p.UID == uid
		}
		if !found {
			delete(c.starting, uid) // deleted before it started
		}
	}
	c.mu.Unlock()
}

// tokens fills in legacy token Secrets created for an existing ServiceAccount.
func (c *workloads) tokens(ctx context.Context) {
	k := c.w.kube
	l, err := k.tracker.List(gvrSecrets, corev1.SchemeGroupVersion.WithKind("Secret"), "")
	if err != nil {
		return
	}
	for _, s := range l.(*corev1.SecretList).Items {
		saName := s.Annotations[corev1.ServiceAccountNameKey]
		if s.Type != corev1.SecretTypeServiceAccountToken || saName == "" || len(s.Data[corev1.ServiceAccountTokenKey]) > 0 {
			continue
		}
		sa, err := getT[*corev1.ServiceAccount](k, gvrServiceAccounts, s.Namespace, saName)
		if err != nil {
			continue
		}
		tok, err := legacyTokenFor(s.Namespace, saName, string(sa.UID), s.Name)
		if err != nil {
			continue
		}
		next := s.DeepCopy()
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
		next.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte(tok), "ca.crt": []byte(demoCA), "namespace": []byte(s.Namespace)}
		_, _ = k.rw.CoreV1().Secrets(s.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	}
}
