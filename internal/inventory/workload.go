package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Facts about workloads and their access to the Kubernetes API (FAILURE-MODES §4 and §5): the
// workload's pod template, its pods, its ServiceAccount's token Secrets (metadata only: a Secret's
// data is never read), its RBAC bindings, and the review APIs (TokenReview, SubjectAccessReview),
// which persist nothing.

// Invalidation prefixes for workload facts.
const (
	KeyWorkloads = "k8s/workload/"
	KeySecrets   = "k8s/secretmeta/"
	KeyPods      = "k8s/pods/"
	KeyRBAC      = "k8s/rbac/"
)

// WorkloadKinds maps what kubectl accepts (full names, plurals and short forms) to a kind.
var WorkloadKinds = map[string]string{
	"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
	"statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
	"daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
	"job": "Job", "jobs": "Job",
	"cronjob": "CronJob", "cronjobs": "CronJob", "cj": "CronJob",
	"pod": "Pod", "pods": "Pod", "po": "Pod",
}

// WorkloadRef names a workload.
type WorkloadRef struct{ Kind, Namespace, Name string }

func (r WorkloadRef) String() string {
	return strings.ToLower(r.Kind) + "/" + r.Namespace + "/" + r.Name
}

// ParseWorkloadRef parses KIND/NS/NAME (kind as kubectl spells it: deploy, sts, pod, …).
func ParseWorkloadRef(s string) (WorkloadRef, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return WorkloadRef{}, fmt.Errorf("%q is not KIND/NAMESPACE/NAME (e.g. deploy/default/environment-manager)", s)
	}
	kind, ok := WorkloadKinds[strings.ToLower(parts[0])]
	if !ok {
		return WorkloadRef{}, fmt.Errorf("%q: unknown workload kind %q (one of deployment|deploy, statefulset|sts, daemonset|ds, job, cronjob|cj, pod|po)", s, parts[0])
	}
	return WorkloadRef{Kind: kind, Namespace: parts[1], Name: parts[2]}, nil
}

// Workload is a workload's pod template and its pods.
type Workload struct {
	Ref      WorkloadRef
	UID      string
	Template corev1.PodTemplateSpec
	Selector labels.Selector // nil for a bare Pod
	Object   runtime.Object  // the object as read (for fixes' snapshots)
	// Owned is false for a bare Pod (no controller re-creates it).
	Owned bool
}

// ServiceAccountName is the ServiceAccount the pods run as.
func (w *Workload) ServiceAccountName() string {
	if sa := w.Template.Spec.ServiceAccountName; sa != "" {
		return sa
	}
	if sa := w.Template.Spec.DeprecatedServiceAccount; sa != "" {
		return sa
	}
	return "default"
}

// Workload reads one workload.
func (i *Inventory) Workload(ctx context.Context, ref WorkloadRef) (*Workload, error) {
	return Memo(ctx, i, KeyWorkloads+ref.String(), func(ctx context.Context) (*Workload, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		w := &Workload{Ref: ref, Owned: true}
		var sel *metav1.LabelSelector
		what := "get " + ref.Kind
		res := ref.Namespace + "/" + ref.Name
		switch ref.Kind {
		case "Deployment":
			o, err := k.AppsV1().Deployments(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Map(err, what, res)
			}
			w.UID, w.Template, sel, w.Object = string(o.UID), o.Spec.Template, o.Spec.Selector, o
		case "StatefulSet":
			o, err := k.AppsV1().StatefulSets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Map(err, what, res)
			}
			w.UID, w.Template, sel, w.Object = string(o.UID), o.Spec.Template, o.Spec.Selector, o
		case "DaemonSet":
			o, err := k.AppsV1().DaemonSets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Map(err, what, res)
			}
			w.UID, w.Template, sel, w.Object = string(o.UID), o.Spec.Template, o.Spec.Selector, o
		case "Job":
			o, err := k.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Map(err, what, res)
			}
			w.UID, w.Template, sel, w.Object = string(o.UID), o.Spec.Template, o.Spec.Selector, o
		case "CronJob":
			o, err := k.BatchV1().CronJobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Map(err, what, res)
			}
			w.UID, w.Template, w.Object = string(o.UID), o.Spec.JobTemplate.Spec.Template, o
			// A CronJob's pods are its Jobs' pods: found by the job-name label of its Jobs.
		case "Pod":
			o, err := k.CoreV1().Pods(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Map(err, what, res)
			}
			w.UID, w.Object = string(o.UID), o
			w.Template = corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: o.Labels, Annotations: o.Annotations}, Spec: o.Spec}
			w.Owned = metav1.GetControllerOf(o) != nil
		default:
			return nil, fmt.Errorf("unknown workload kind %q", ref.Kind)
		}
		if sel != nil {
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil {
				return nil, fmt.Errorf("%s %s: bad selector: %w", ref.Kind, res, err)
			}
			w.Selector = s
		}
		return w, nil
	})
}

// WorkloadPods returns the workload's pods (for a bare Pod: itself).
func (i *Inventory) WorkloadPods(ctx context.Context, w *Workload) ([]corev1.Pod, error) {
	if w.Ref.Kind == "Pod" {
		if p, ok := w.Object.(*corev1.Pod); ok {
			return []corev1.Pod{*p}, nil
		}
	}
	if w.Ref.Kind == "CronJob" {
		return i.cronJobPods(ctx, w)
	}
	if w.Selector == nil {
		return nil, nil
	}
	return i.PodsBySelector(ctx, w.Ref.Namespace, w.Selector.String())
}

func (i *Inventory) cronJobPods(ctx context.Context, w *Workload) ([]corev1.Pod, error) {
	return Memo(ctx, i, KeyPods+"cronjob/"+w.Ref.Namespace+"/"+w.Ref.Name, func(ctx context.Context) ([]corev1.Pod, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		jobs, err := k.BatchV1().Jobs(w.Ref.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Map(err, "list Jobs", w.Ref.Namespace)
		}
		var out []corev1.Pod
		for _, j := range jobs.Items {
			if c := metav1.GetControllerOf(&j); c == nil || string(c.UID) != w.UID {
				continue
			}
			pods, err := i.PodsBySelector(ctx, w.Ref.Namespace, batchv1.JobNameLabel+"="+j.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, pods...)
		}
		return out, nil
	})
}

// PodsBySelector lists the pods of a namespace matching a label selector.
func (i *Inventory) PodsBySelector(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	return Memo(ctx, i, KeyPods+ns+"?"+selector, func(ctx context.Context) ([]corev1.Pod, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		var out []corev1.Pod
		opts := metav1.ListOptions{LabelSelector: selector, Limit: listPage}
		for {
			l, err := k.CoreV1().Pods(ns).List(ctx, opts)
			if err != nil {
				return nil, kube.Map(err, "list pods", ns)
			}
			out = append(out, l.Items...)
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
}

// SecretMeta is what gkedoctor knows of a Secret: its metadata and type, never its data.
type SecretMeta struct {
	metav1.ObjectMeta
	Type corev1.SecretType
}

const partialMetadataAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
const partialMetadataListAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

// restClientOf returns the clientset's core REST client when it is a real one (not a fake's nil).
func restClientOf(k interface{ RESTClient() rest.Interface }) *rest.RESTClient {
	rc, ok := k.RESTClient().(*rest.RESTClient)
	if !ok || rc == nil {
		return nil
	}
	return rc
}

// Secret returns one Secret's metadata. Against a real API server only the metadata travels
// (PartialObjectMetadata); against a client without a REST transport (the demo world's) the object
// is read and its data dropped at once, before anything else sees it.
func (i *Inventory) Secret(ctx context.Context, ns, name string) (*SecretMeta, error) {
	return Memo(ctx, i, KeySecrets+ns+"/"+name, func(ctx context.Context) (*SecretMeta, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		res := ns + "/" + name
		if rc := restClientOf(k.CoreV1()); rc != nil {
			raw, err := rc.Get().Namespace(ns).Resource("secrets").Name(name).SetHeader("Accept", partialMetadataAccept).Do(ctx).Raw()
			if err != nil {
				return nil, kube.Map(err, "get Secret (metadata)", res)
			}
			var pm metav1.PartialObjectMetadata
			if err := json.Unmarshal(raw, &pm); err != nil {
				return nil, fmt.Errorf("get Secret (metadata) %s: %w", res, err)
			}
			sm := &SecretMeta{ObjectMeta: pm.ObjectMeta}
			sm.ManagedFields = nil
			if sm.Annotations[corev1.ServiceAccountNameKey] != "" {
				sm.Type = corev1.SecretTypeServiceAccountToken // the only Secrets carrying that annotation
			}
			return sm, nil
		}
		s, err := k.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.Map(err, "get Secret (metadata)", res)
		}
		sm := &SecretMeta{ObjectMeta: *s.ObjectMeta.DeepCopy(), Type: s.Type}
		sm.ManagedFields = nil
		return sm, nil
	})
}

// TokenSecrets lists the metadata of the ServiceAccount token Secrets of a namespace (type
// kubernetes.io/service-account-token).
func (i *Inventory) TokenSecrets(ctx context.Context, ns string) ([]SecretMeta, error) {
	return Memo(ctx, i, KeySecrets+ns+"?tokens", func(ctx context.Context) ([]SecretMeta, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		sel := "type=" + string(corev1.SecretTypeServiceAccountToken)
		if rc := restClientOf(k.CoreV1()); rc != nil {
			raw, err := rc.Get().Namespace(ns).Resource("secrets").Param("fieldSelector", sel).SetHeader("Accept", partialMetadataListAccept).Do(ctx).Raw()
			if err != nil {
				return nil, kube.Map(err, "list token Secrets (metadata)", ns)
			}
			var l metav1.PartialObjectMetadataList
			if err := json.Unmarshal(raw, &l); err != nil {
				return nil, fmt.Errorf("list token Secrets (metadata) %s: %w", ns, err)
			}
			out := make([]SecretMeta, 0, len(l.Items))
			for _, it := range l.Items {
				it.ManagedFields = nil
				out = append(out, SecretMeta{ObjectMeta: it.ObjectMeta, Type: corev1.SecretTypeServiceAccountToken})
			}
			return out, nil
		}
		l, err := k.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return nil, kube.Map(err, "list token Secrets (metadata)", ns)
		}
		out := make([]SecretMeta, 0, len(l.Items))
		for _, s := range l.Items {
			if s.Type != corev1.SecretTypeServiceAccountToken {
				continue
			}
			m := *s.ObjectMeta.DeepCopy()
			m.ManagedFields = nil
			out = append(out, SecretMeta{ObjectMeta: m, Type: s.Type})
		}
		return out, nil
	})
}

// ClusterRoleBindings lists every ClusterRoleBinding.
func (i *Inventory) ClusterRoleBindings(ctx context.Context) ([]rbacv1.ClusterRoleBinding, error) {
	return Memo(ctx, i, KeyRBAC+"clusterrolebindings", func(ctx context.Context) ([]rbacv1.ClusterRoleBinding, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		l, err := k.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Map(err, "list ClusterRoleBindings", "")
		}
		return l.Items, nil
	})
}

// RoleBindings lists every RoleBinding in every namespace.
func (i *Inventory) RoleBindings(ctx context.Context) ([]rbacv1.RoleBinding, error) {
	return Memo(ctx, i, KeyRBAC+"rolebindings", func(ctx context.Context) ([]rbacv1.RoleBinding, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		l, err := k.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Map(err, "list RoleBindings", "all namespaces")
		}
		return l.Items, nil
	})
}

// Deployments, StatefulSets and DaemonSets of a namespace (for workload discovery).
func (i *Inventory) Controllers(ctx context.Context, ns string) ([]*Workload, error) {
	return Memo(ctx, i, KeyWorkloads+"controllers/"+ns, func(ctx context.Context) ([]*Workload, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		var out []*Workload
		add := func(kind, name, uid string, t corev1.PodTemplateSpec, sel *metav1.LabelSelector, o runtime.Object) {
			w := &Workload{Ref: WorkloadRef{Kind: kind, Namespace: ns, Name: name}, UID: uid, Template: t, Object: o, Owned: true}
			if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
				w.Selector = s
			}
			out = append(out, w)
		}
		ds, err := k.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Map(err, "list Deployments", ns)
		}
		for idx := range ds.Items {
			d := &ds.Items[idx]
			add("Deployment", d.Name, string(d.UID), d.Spec.Template, d.Spec.Selector, d)
		}
		ss, err := k.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Map(err, "list StatefulSets", ns)
		}
		for idx := range ss.Items {
			s := &ss.Items[idx]
			add("StatefulSet", s.Name, string(s.UID), s.Spec.Template, s.Spec.Selector, s)
		}
		dss, err := k.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Map(err, "list DaemonSets", ns)
		}
		for idx := range dss.Items {
			d := &dss.Items[idx]
			add("DaemonSet", d.Name, string(d.UID), d.Spec.Template, d.Spec.Selector, d)
		}
		return out, nil
	})
}

// TokenReview sends a token to the TokenReview API (read-only: nothing is persisted) and returns the
// status. The token is not kept: neither the request nor the status is cached or logged.
func (i *Inventory) TokenReview(ctx context.Context, token string, audiences []string) (*authnv1.TokenReviewStatus, error) {
	k, err := i.Kube()
	if err != nil {
		return nil, err
	}
	tr, err := k.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token, Audiences: audiences}}, metav1.CreateOptions{})
	if err != nil {
		return nil, kube.Map(err, "create TokenReview", "")
	}
	st := tr.Status
	return &st, nil
}

// Access asks the API server whether user (with groups) may do verb on resource/subresource in ns,
// with a SubjectAccessReview (read-only: nothing is persisted). Memoised per question.
func (i *Inventory) Access(ctx context.Context, user string, groups []string, ns, verb, group, resource, sub string) (*authzv1.SubjectAccessReviewStatus, error) {
	key := KeyRBAC + "sar/" + user + "/" + ns + "/" + verb + "/" + group + "/" + resource + "/" + sub
	return Memo(ctx, i, key, func(ctx context.Context) (*authzv1.SubjectAccessReviewStatus, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{User: user, Groups: groups,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource, Subresource: sub}}}
		out, err := k.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return nil, kube.Map(err, "create SubjectAccessReview", "")
		}
		st := out.Status
		return &st, nil
	})
}

// PodLogTail returns the last lines of a container's log (at most maxBytes), or "" when the pod has
// none. Logs are application output: callers match fixed phrases in them and never print them.
func (i *Inventory) PodLogTail(ctx context.Context, ns, pod, container string, lines int64, maxBytes int64) (string, error) {
	key := KeyPods + "log/" + ns + "/" + pod + "/" + container
	return Memo(ctx, i, key, func(ctx context.Context) (string, error) {
		k, err := i.Kube()
		if err != nil {
			return "", err
		}
		opts := &corev1.PodLogOptions{Container: container, TailLines: &lines, LimitBytes: &maxBytes}
		rc, err := k.CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx)
		if err != nil {
			return "", kube.Map(err, "read logs of pod", ns+"/"+pod)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxBytes))
		if err != nil {
			return "", &apierr.Error{Kind: apierr.Unavailable, Op: "read logs of pod", Resource: ns + "/" + pod, Err: err}
		}
		return string(b), nil
	})
}
