package fixes

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The fixes for sa-token-401 (FAILURE-MODES §4, "Safe fixes"): restart a workload so its pods get
// fresh bound tokens; a new legacy token Secret for a legacy consumer (and the workload pointed at
// it); re-activate a Secret the legacy token cleaner invalidated; a Role and RoleBinding for the
// verbs RBAC denies (when the real problem is 403). Secrets' data is never read, shown or journaled:
// the journal holds metadata only. Client-side causes are advice (NewTokenAdvice).

const (
	undoDeleteObject       = "kubernetes.delete-object"
	undoRestoreSecretLabel = "kubernetes.restore-secret-label"
	undoRepointVolume      = "kubernetes.repoint-secret-volume"
	// RestartedAtAnnotation is what `kubectl rollout restart` sets on the pod template.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	legacyInvalidSince    = "kubernetes.io/legacy-token-invalid-since"
)

// RolloutWaitTimeout bounds the wait for a restarted workload's new pods (tests shorten it).
var RolloutWaitTimeout = 3 * time.Minute

// WorkloadRef names a workload (Deployment, StatefulSet, DaemonSet).
type WorkloadRef struct{ Kind, Namespace, Name string }

func (w WorkloadRef) String() string {
	return strings.ToLower(w.Kind) + "/" + w.Namespace + "/" + w.Name
}

func (w WorkloadRef) kubectl() string {
	return strings.ToLower(w.Kind) + "/" + w.Name + " -n " + w.Namespace
}

// randomSuffix is n characters a Kubernetes name may hold, as generateName would add.
func randomSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func init() {
	RegisterUndoer(undoDeleteObject, undoDeleteObjectFn)
	RegisterUndoer(undoRestoreSecretLabel, undoRestoreSecretLabelFn)
	RegisterUndoer(undoRepointVolume, undoRepointVolumeFn)
}

func tokenKube(deps *Deps) (kubernetes.Interface, error) {
	if deps == nil || deps.Kube == nil {
		return nil, apierr.NotConfiguredf("gcloud container clusters get-credentials CLUSTER --location LOCATION", "no Kubernetes client to apply the fix with")
	}
	return deps.Kube, nil
}

// --- workload access (template only: env values, which may be secrets, are never journaled) ---

type workloadState struct {
	UID             string
	ResourceVersion string
	Generation      int64
	Template        corev1.PodTemplateSpec
	Selector        *metav1.LabelSelector
	Replicas        int32
}

func getWorkload(ctx context.Context, k kubernetes.Interface, w WorkloadRef) (*workloadState, error) {
	res := w.Namespace + "/" + w.Name
	switch w.Kind {
	case "Deployment":
		o, err := k.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.Map(err, "get Deployment", res)
		}
		r := int32(1)
		if o.Spec.Replicas != nil {
			r = *o.Spec.Replicas
		}
		return &workloadState{string(o.UID), o.ResourceVersion, o.Generation, o.Spec.Template, o.Spec.Selector, r}, nil
	case "StatefulSet":
		o, err := k.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.Map(err, "get StatefulSet", res)
		}
		r := int32(1)
		if o.Spec.Replicas != nil {
			r = *o.Spec.Replicas
		}
		return &workloadState{string(o.UID), o.ResourceVersion, o.Generation, o.Spec.Template, o.Spec.Selector, r}, nil
	case "DaemonSet":
		o, err := k.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.Map(err, "get DaemonSet", res)
		}
		return &workloadState{string(o.UID), o.ResourceVersion, o.Generation, o.Spec.Template, o.Spec.Selector, o.Status.DesiredNumberScheduled}, nil
	}
	return nil, fmt.Errorf("cannot change a %s with this fix", w.Kind)
}

func patchWorkload(ctx context.Context, k kubernetes.Interface, w WorkloadRef, pt types.PatchType, body []byte) error {
	res := w.Namespace + "/" + w.Name
	var err error
	switch w.Kind {
	case "Deployment":
		_, err = k.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, pt, body, metav1.PatchOptions{})
	case "StatefulSet":
		_, err = k.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, pt, body, metav1.PatchOptions{})
	case "DaemonSet":
		_, err = k.AppsV1().DaemonSets(w.Namespace).Patch(ctx, w.Name, pt, body, metav1.PatchOptions{})
	default:
		return fmt.Errorf("cannot patch a %s", w.Kind)
	}
	if apierrors.IsConflict(err) || apierrors.IsInvalid(err) && strings.Contains(err.Error(), "test") {
		return &apierr.Error{Kind: apierr.Conflict, Op: "patch " + w.Kind, Resource: res, Err: err}
	}
	return kube.Map(err, "patch "+w.Kind, res)
}

// waitRollout waits until the workload's pods were all created at or after since and are ready.
func waitRollout(ctx context.Context, k kubernetes.Interface, w WorkloadRef, since time.Time, progress func(string)) (string, error) {
	since = since.Truncate(time.Second)
	last := time.Time{}
	for {
		st, err := getWorkload(ctx, k, w)
		if err == nil {
			sel, serr := metav1.LabelSelectorAsSelector(st.Selector)
			if serr != nil {
				sel = labels.Everything()
			}
			pods, err := k.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err == nil {
				fresh, stale := 0, 0
				for _, p := range pods.Items {
					if p.DeletionTimestamp != nil {
						continue
					}
					if p.CreationTimestamp.Time.Before(since) {
						stale++
					} else if podReady(&p) {
						fresh++
					}
				}
				if stale == 0 && fresh >= int(st.Replicas) {
					return fmt.Sprintf("%s: %d new pod(s) running with fresh tokens", w, fresh), nil
				}
				if time.Since(last) > 10*time.Second {
					last = time.Now()
					progress(fmt.Sprintf("waiting for %s: %d new pod(s) ready of %d, %d old pod(s) left", w, fresh, st.Replicas, stale))
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Sprintf("%s has not finished rolling out (kubectl rollout status %s)", w, w.kubectl()), ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// --- rollout restart ---

// NewRolloutRestartPlan restarts a workload the way `kubectl rollout restart` does: its pod template
// gets a kubectl.kubernetes.io/restartedAt annotation, so the controller replaces every pod, and the
// new pods get bound tokens for the current ServiceAccount and pod UIDs. There is nothing to undo (the
// old pods are gone; the annotation is harmless); the journal records what was done.
func NewRolloutRestartPlan(deps *Deps, w WorkloadRef) *Plan {
	p := &Plan{
		ID:    "rollout-restart/" + w.String(),
		Title: fmt.Sprintf("Restart %s (rollout restart): new pods get fresh bound tokens", w),
		Description: "Sets the pod template annotation " + RestartedAtAnnotation + " to the current time, as `kubectl rollout restart` does; the controller " +
			"replaces the pods one by one and the new pods get tokens for the current ServiceAccount. Undo: nothing to restore — the old pods cannot come back, and the new ones are the same workload.",
		Diff:          Diff("spec.template.metadata.annotations:\n", "spec.template.metadata.annotations:\n  "+RestartedAtAnnotation+": NOW\n"),
		Reversible:    false,
		Commands:      []string{"kubectl rollout restart " + w.kubectl(), "kubectl rollout status " + w.kubectl()},
		WaitTimeout:   RolloutWaitTimeout,
		JudgedAgainst: []string{"every pod of " + w.String() + " (replaced one by one, under its rollout strategy); no other workload"},
	}
	var started time.Time
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Snapshot{}, err
		}
		st, err := getWorkload(ctx, k, w)
		if err != nil {
			return Snapshot{}, err
		}
		b, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": st.Template.Annotations}}}})
		return Snapshot{Prior: []Object{{API: "kubernetes", Kind: w.Kind, Name: w.Namespace + "/" + w.Name, Version: st.ResourceVersion, Contents: b}}}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Outcome{}, err
		}
		rv, err := snap.RequireVersion()
		if err != nil {
			return Outcome{}, err
		}
		started = time.Now()
		body, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": rv},
			"spec":     map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": map[string]string{RestartedAtAnnotation: started.UTC().Format(time.RFC3339)}}}},
		})
		if err := patchWorkload(ctx, k, w, types.MergePatchType, body); err != nil {
			return Outcome{}, err
		}
		return Outcome{Message: fmt.Sprintf("restarted %s; nothing to undo (a restart replaces pods, it changes no configuration)", w)}, nil
	}
	p.Wait = func(ctx context.Context, progress func(string)) (string, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return "", err
		}
		return waitRollout(ctx, k, w, started, progress)
	}
	return p
}

// --- a new legacy token Secret ---

// TokenSecretSpec describes a new kubernetes.io/service-account-token Secret.
type TokenSecretSpec struct {
	Namespace, ServiceAccount string
	// Name is the Secret's name; "" means SERVICEACCOUNT-token-XXXXX (generated).
	Name string
	// Workload, when set, mounts Replaces (a stale Secret) at the token path: the fix points that
	// volume at the new Secret, which rolls the workload.
	Workload *WorkloadRef
	Replaces string
}

type deleteObjectParams struct {
	Kind      string `json:"kind"` // Secret, Role, RoleBinding
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

type repointParams struct {
	Workload WorkloadRef `json:"workload"`
	Volume   string      `json:"volume"`
	From     string      `json:"from"` // the Secret the fix put in
	To       string      `json:"to"`   // the Secret to put back
}

func tokenSecret(s TokenSecretSpec) *corev1.Secret {
	m := metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name,
		Annotations: map[string]string{corev1.ServiceAccountNameKey: s.ServiceAccount},
		Labels:      map[string]string{LabelManagedBy: ManagedByValue}}
	if s.Name == "" {
		m.GenerateName = s.ServiceAccount + "-token-"
	}
	return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: m, Type: corev1.SecretTypeServiceAccountToken}
}

func secretManifest(s *corev1.Secret) string {
	meta := map[string]any{"namespace": s.Namespace, "annotations": s.Annotations, "labels": s.Labels}
	if s.Name != "" {
		meta["name"] = s.Name
	} else {
		meta["generateName"] = s.GenerateName
	}
	b, _ := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "type": string(s.Type), "metadata": meta})
	return string(b)
}

// NewTokenSecretPlan creates a legacy token Secret for the ServiceAccount; kube-controller-manager's
// token controller fills in a token for the current ServiceAccount UID. With a Workload, the volume
// that mounts the stale Secret is pointed at the new one (the workload rolls). Undo points the volume
// back and deletes the Secret.
func NewTokenSecretPlan(deps *Deps, s TokenSecretSpec) *Plan {
	want := tokenSecret(s)
	id := "new-token-secret/" + s.Namespace + "/" + s.ServiceAccount
	title := fmt.Sprintf("Create a new token Secret for ServiceAccount %s/%s", s.Namespace, s.ServiceAccount)
	desc := "Creates a Secret of type kubernetes.io/service-account-token annotated with the ServiceAccount's name; the token controller fills in a token for the ServiceAccount as it is now (current UID). Undo deletes it."
	if s.Name != "" {
		title = fmt.Sprintf("Re-create the missing token Secret %s/%s for ServiceAccount %s", s.Namespace, s.Name, s.ServiceAccount)
		id = "new-token-secret/" + s.Namespace + "/" + s.Name
	}
	cmds := []string{"cat <<'EOF' | kubectl create -f -\n" + secretManifest(want) + "EOF"}
	if s.Workload != nil {
		id = "replace-token-secret/" + s.Workload.String()
		title = fmt.Sprintf("Give %s a new token Secret for ServiceAccount %s (replacing the stale %s)", s.Workload, s.ServiceAccount, s.Replaces)
		desc += fmt.Sprintf(" Then the volume of %s that mounts %s is pointed at the new Secret, so its pods roll and read a token the API server accepts. "+
			"Undo points the volume back at %s and deletes the new Secret. Moving the workload to a projected (bound) token is better still: see the advice.", s.Workload, s.Replaces, s.Replaces)
		cmds = append(cmds, fmt.Sprintf("kubectl patch %s --type json -p '[{\"op\":\"replace\",\"path\":\"/spec/template/spec/volumes/N/secret/secretName\",\"value\":\"NEW-SECRET\"}]'   # N: the volume with secretName %s", s.Workload.kubectl(), s.Replaces),
			"kubectl rollout status "+s.Workload.kubectl())
	}
	p := &Plan{ID: id, Title: title, Description: desc, Reversible: true, Commands: cmds,
		Diff: Diff("# Secret: absent\n", secretManifest(want)), WaitTimeout: RolloutWaitTimeout,
		JudgedAgainst: []string{"a new Secret only; ServiceAccount " + s.Namespace + "/" + s.ServiceAccount + " and its other Secrets are not changed"}}
	if s.Workload != nil {
		p.JudgedAgainst = []string{"every pod of " + s.Workload.String() + " (they roll to mount the new Secret)",
			"Secret " + s.Namespace + "/" + s.Replaces + " stays as it is for anything else that mounts it"}
		p.Diff += Diff(fmt.Sprintf("%s volume: secretName: %s\n", s.Workload, s.Replaces), fmt.Sprintf("%s volume: secretName: %s\n", s.Workload, "NEW-SECRET"))
	}
	var started time.Time
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Snapshot{}, err
		}
		snap := Snapshot{}
		if s.Name != "" {
			_, err := secretMeta(ctx, k, s.Namespace, s.Name)
			switch {
			case err == nil:
				return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "create Secret", Resource: s.Namespace + "/" + s.Name, Err: errors.New("it exists already: not touching it")}
			case apierr.KindOf(err) != apierr.NotFound:
				return Snapshot{}, err
			}
			snap.Prior = append(snap.Prior, Object{API: "kubernetes", Kind: "Secret", Name: s.Namespace + "/" + s.Name, Absent: true})
		} else {
			snap.Prior = append(snap.Prior, Object{API: "kubernetes", Kind: "Secret", Name: s.Namespace + "/" + s.ServiceAccount + "-token-(generated)", Absent: true})
		}
		if s.Workload != nil {
			st, err := getWorkload(ctx, k, *s.Workload)
			if err != nil {
				return Snapshot{}, err
			}
			if volumeIndex(st.Template.Spec.Volumes, s.Replaces) < 0 {
				return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "patch " + s.Workload.Kind, Resource: s.Workload.String(), Err: fmt.Errorf("it no longer mounts Secret %s", s.Replaces)}
			}
			b, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"volumes": st.Template.Spec.Volumes}}}})
			snap.Prior = append(snap.Prior, Object{API: "kubernetes", Kind: s.Workload.Kind, Name: s.Workload.Namespace + "/" + s.Workload.Name, Version: st.ResourceVersion, Contents: b})
		}
		return snap, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Outcome{}, err
		}
		// The name is chosen here rather than by generateName, so the undo that deletes the Secret
		// can be journaled before it is created.
		sec := want.DeepCopy()
		if sec.Name == "" {
			sec.Name, sec.GenerateName = s.ServiceAccount+"-token-"+randomSuffix(5), ""
		}
		name := sec.Name
		var uid, rv string
		err = snap.Steps.Do(NewUndo(undoDeleteObject, deleteObjectParams{Kind: "Secret", Namespace: s.Namespace, Name: name}), func() (*UndoAction, error) {
			got, err := k.CoreV1().Secrets(s.Namespace).Create(ctx, sec, metav1.CreateOptions{})
			if err != nil {
				if apierrors.IsAlreadyExists(err) {
					return nil, &apierr.Error{Kind: apierr.Conflict, Op: "create Secret", Resource: s.Namespace + "/" + name, Err: errors.New("created by someone else since it was read")}
				}
				return nil, kube.Map(err, "create Secret", s.Namespace+"/"+name)
			}
			uid, rv = string(got.UID), got.ResourceVersion
			got = nil // the response may already carry a token: drop it
			done := NewUndo(undoDeleteObject, deleteObjectParams{Kind: "Secret", Namespace: s.Namespace, Name: name, UID: uid})
			return &done, nil
		})
		if err != nil {
			return Outcome{}, err
		}
		out := Outcome{
			Message: fmt.Sprintf("created token Secret %s/%s for ServiceAccount %s", s.Namespace, name, s.ServiceAccount),
			Created: []Object{{API: "kubernetes", Kind: "Secret", Name: s.Namespace + "/" + name, Version: rv}},
		}
		if s.Workload == nil {
			return out, nil
		}
		partial := func(err error) error {
			return fmt.Errorf("the new Secret %s/%s was created (undo deletes it), but %s was not changed: %v", s.Namespace, name, s.Workload, err)
		}
		st, err := getWorkload(ctx, k, *s.Workload)
		if err != nil {
			return out, partial(err)
		}
		rv0 := ""
		for _, o := range snap.Prior {
			if o.Kind == s.Workload.Kind {
				rv0 = o.Version
			}
		}
		if rv0 != "" && st.ResourceVersion != rv0 {
			return out, partial(errors.New("it changed since it was read (a concurrent change)"))
		}
		i := volumeIndex(st.Template.Spec.Volumes, s.Replaces)
		if i < 0 {
			return out, partial(fmt.Errorf("it no longer mounts Secret %s", s.Replaces))
		}
		vol := st.Template.Spec.Volumes[i].Name
		started = time.Now()
		err = snap.Steps.Do(NewUndo(undoRepointVolume, repointParams{Workload: *s.Workload, Volume: vol, From: name, To: s.Replaces}), func() (*UndoAction, error) {
			return nil, repointVolume(ctx, k, *s.Workload, i, s.Replaces, name, st.ResourceVersion)
		})
		if err != nil {
			return out, partial(err)
		}
		out.Message += fmt.Sprintf("; %s now mounts it (volume %s) instead of %s and is rolling", s.Workload, vol, s.Replaces)
		return out, nil
	}
	if s.Workload != nil {
		p.Wait = func(ctx context.Context, progress func(string)) (string, error) {
			k, err := tokenKube(deps)
			if err != nil {
				return "", err
			}
			return waitRollout(ctx, k, *s.Workload, started, progress)
		}
	}
	return p
}

func volumeIndex(vols []corev1.Volume, secret string) int {
	for i, v := range vols {
		if v.Secret != nil && v.Secret.SecretName == secret {
			return i
		}
	}
	return -1
}

// repointVolume replaces volume i's secretName from → to, guarded by a JSON-patch test on the current
// value (and on the resourceVersion when given).
func repointVolume(ctx context.Context, k kubernetes.Interface, w WorkloadRef, i int, from, to, rv string) error {
	path := fmt.Sprintf("/spec/template/spec/volumes/%d/secret/secretName", i)
	ops := []map[string]any{{"op": "test", "path": path, "value": from}, {"op": "replace", "path": path, "value": to}}
	if rv != "" {
		ops = append([]map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": rv}}, ops...)
	}
	body, _ := json.Marshal(ops)
	return patchWorkload(ctx, k, w, types.JSONPatchType, body)
}

func undoRepointVolumeFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p repointParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Workload.Name == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	k, err := tokenKube(deps)
	if err != nil {
		return err
	}
	st, err := getWorkload(ctx, k, p.Workload)
	if apierr.KindOf(err) == apierr.NotFound {
		return Absent(p.Workload.String())
	}
	if err != nil {
		return err
	}
	i := volumeIndex(st.Template.Spec.Volumes, p.From)
	if i < 0 || st.Template.Spec.Volumes[i].Name != p.Volume {
		if volumeIndex(st.Template.Spec.Volumes, p.To) >= 0 {
			return Absent(p.Workload.String() + " volume " + p.Volume + " (mounts " + p.To + ")")
		}
		return &apierr.Error{Kind: apierr.Conflict, Op: "patch " + p.Workload.Kind, Resource: p.Workload.String(), Err: fmt.Errorf("volume %s no longer mounts %s", p.Volume, p.From)}
	}
	return repointVolume(ctx, k, p.Workload, i, p.From, p.To, st.ResourceVersion)
}

func undoDeleteObjectFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p deleteObjectParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Name == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	k, err := tokenKube(deps)
	if err != nil {
		return err
	}
	ref := p.Namespace + "/" + p.Name
	var uid types.UID
	var managed bool
	var getErr error
	switch p.Kind {
	case "Secret":
		m, err := secretMeta(ctx, k, p.Namespace, p.Name)
		if err == nil {
			uid, managed = m.UID, m.Labels[LabelManagedBy] == ManagedByValue
		}
		getErr = err
	case "Role":
		o, err := k.RbacV1().Roles(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil {
			uid, managed = o.UID, o.Labels[LabelManagedBy] == ManagedByValue
		}
		getErr = kube.Map(err, "get Role", ref)
	case "RoleBinding":
		o, err := k.RbacV1().RoleBindings(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil {
			uid, managed = o.UID, o.Labels[LabelManagedBy] == ManagedByValue
		}
		getErr = kube.Map(err, "get RoleBinding", ref)
	default:
		return fmt.Errorf("cannot undo: unknown kind %q", p.Kind)
	}
	if apierr.KindOf(getErr) == apierr.NotFound {
		return Absent(p.Kind + " " + ref)
	}
	if getErr != nil {
		return getErr
	}
	switch {
	case p.UID != "" && string(uid) != p.UID:
		return &ChangedError{Resource: p.Kind + " " + ref, Why: fmt.Sprintf("it was deleted and re-created since the fix (UID %s, the fix created %s): it is someone else's", uid, p.UID)}
	case p.UID == "" && !managed:
		return &ChangedError{Resource: p.Kind + " " + ref, Why: "it is not labelled as created by gkedoctor, and the fix stopped before it learned the UID of what it created: it is someone else's"}
	}
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	switch p.Kind {
	case "Secret":
		err = k.CoreV1().Secrets(p.Namespace).Delete(ctx, p.Name, opts)
	case "Role":
		err = k.RbacV1().Roles(p.Namespace).Delete(ctx, p.Name, opts)
	case "RoleBinding":
		err = k.RbacV1().RoleBindings(p.Namespace).Delete(ctx, p.Name, opts)
	}
	if apierrors.IsNotFound(err) {
		return Absent(p.Kind + " " + ref)
	}
	return kube.Map(err, "delete "+p.Kind, ref)
}

// secretMeta reads a Secret's metadata: against a real API server as PartialObjectMetadata (the data
// never travels); otherwise the object is read and its data dropped at once.
func secretMeta(ctx context.Context, k kubernetes.Interface, ns, name string) (*metav1.ObjectMeta, error) {
	res := ns + "/" + name
	if rc, ok := k.CoreV1().RESTClient().(*rest.RESTClient); ok && rc != nil {
		raw, err := rc.Get().Namespace(ns).Resource("secrets").Name(name).
			SetHeader("Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1").Do(ctx).Raw()
		if err != nil {
			return nil, kube.Map(err, "get Secret (metadata)", res)
		}
		var pm metav1.PartialObjectMetadata
		if err := json.Unmarshal(raw, &pm); err != nil {
			return nil, fmt.Errorf("get Secret (metadata) %s: %w", res, err)
		}
		return &pm.ObjectMeta, nil
	}
	s, err := k.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, kube.Map(err, "get Secret (metadata)", res)
	}
	m := s.ObjectMeta.DeepCopy()
	return m, nil
}

// --- re-activate a cleaner-invalidated legacy token ---

type secretLabelParams struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Label     string `json:"label"`
	Value     string `json:"value"`
}

// NewRemoveInvalidSincePlan removes kubernetes.io/legacy-token-invalid-since from a legacy token
// Secret, which re-activates its token. Undo puts the label back.
func NewRemoveInvalidSincePlan(deps *Deps, ns, name string) *Plan {
	ref := ns + "/" + name
	p := &Plan{
		ID:    "reactivate-legacy-token/" + ref,
		Title: fmt.Sprintf("Re-activate the legacy token Secret %s (remove %s)", ref, legacyInvalidSince),
		Description: "The legacy token cleaner labelled this Secret after a year without use, and the authenticator rejects labelled tokens. Removing the label " +
			"re-activates it (the cleaner will label it again if it stays unused). Undo puts the label back. Moving the consumer to a bound token is better: see the advice.",
		Diff:          Diff(fmt.Sprintf("metadata.labels:\n  %s: …\n", legacyInvalidSince), "metadata.labels: {}\n"),
		Reversible:    true,
		Commands:      []string{fmt.Sprintf("kubectl label secret %s -n %s %s-", name, ns, legacyInvalidSince)},
		JudgedAgainst: []string{"everyone who holds the token of Secret " + ref + ": it authenticates again for all of them, not only this workload"},
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Snapshot{}, err
		}
		m, err := secretMeta(ctx, k, ns, name)
		if err != nil {
			return Snapshot{}, err
		}
		v, ok := m.Labels[legacyInvalidSince]
		if !ok {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "patch Secret", Resource: ref, Err: errors.New("the label is gone already")}
		}
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": m.Labels, "annotations": m.Annotations}})
		return Snapshot{
			Prior: []Object{{API: "kubernetes", Kind: "Secret (metadata only)", Name: ref, Version: m.ResourceVersion, Contents: b}},
			Undo:  []UndoAction{NewUndo(undoRestoreSecretLabel, secretLabelParams{Namespace: ns, Name: name, Label: legacyInvalidSince, Value: v})},
		}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Outcome{}, err
		}
		path := "/metadata/labels/" + strings.ReplaceAll(strings.ReplaceAll(legacyInvalidSince, "~", "~0"), "/", "~1")
		ops := []map[string]any{{"op": "remove", "path": path}}
		if v := snap.Version(); v != "" {
			ops = append([]map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": v}}, ops...)
		}
		body, _ := json.Marshal(ops)
		_, err = k.CoreV1().Secrets(ns).Patch(ctx, name, types.JSONPatchType, body, metav1.PatchOptions{})
		if err != nil {
			if apierrors.IsConflict(err) || apierrors.IsInvalid(err) {
				return Outcome{}, &apierr.Error{Kind: apierr.Conflict, Op: "patch Secret", Resource: ref, Err: err}
			}
			return Outcome{}, kube.Map(err, "patch Secret", ref)
		}
		return Outcome{Message: "removed " + legacyInvalidSince + " from " + ref + ": its token is accepted again"}, nil
	}
	return p
}

func undoRestoreSecretLabelFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p secretLabelParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Name == "" || p.Label == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	k, err := tokenKube(deps)
	if err != nil {
		return err
	}
	ref := p.Namespace + "/" + p.Name
	m, err := secretMeta(ctx, k, p.Namespace, p.Name)
	if err != nil {
		return err
	}
	if v, ok := m.Labels[p.Label]; ok {
		if v == p.Value {
			return Absent("label " + p.Label + " of Secret " + ref)
		}
		return &apierr.Error{Kind: apierr.Conflict, Op: "label Secret", Resource: ref, Err: fmt.Errorf("it carries %s=%s now (set by someone else)", p.Label, v)}
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": m.ResourceVersion, "labels": map[string]string{p.Label: p.Value}}})
	_, err = k.CoreV1().Secrets(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, body, metav1.PatchOptions{})
	return kube.Map(err, "label Secret", ref)
}

// --- RBAC for the verbs that are denied (the real problem is 403) ---

// RoleBindingSpec grants a ServiceAccount rules in its namespace.
type RoleBindingSpec struct {
	Namespace, ServiceAccount string
	Rules                     []rbacv1.PolicyRule
}

// RoleName is the name of the Role and RoleBinding the fix creates.
func (s RoleBindingSpec) RoleName() string {
	n := "gkedoctor-" + s.ServiceAccount + "-access"
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

func (s RoleBindingSpec) objects() (*rbacv1.Role, *rbacv1.RoleBinding) {
	lab := map[string]string{LabelManagedBy: ManagedByValue}
	role := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: s.RoleName(), Namespace: s.Namespace, Labels: lab}, Rules: s.Rules}
	rb := &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: s.RoleName(), Namespace: s.Namespace, Labels: lab},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: s.RoleName()},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: s.ServiceAccount, Namespace: s.Namespace}}}
	return role, rb
}

// NewRoleBindingPlan creates a Role with the denied verbs and a RoleBinding of it to the
// ServiceAccount. Undo deletes both.
func NewRoleBindingPlan(deps *Deps, s RoleBindingSpec) *Plan {
	role, rb := s.objects()
	rm, _ := yaml.Marshal(role)
	bm, _ := yaml.Marshal(rb)
	manifest := string(rm) + "---\n" + string(bm)
	ref := s.Namespace + "/" + s.RoleName()
	var verbs []string
	for _, r := range s.Rules {
		verbs = append(verbs, strings.Join(r.Verbs, ",")+" "+strings.Join(r.Resources, ","))
	}
	p := &Plan{
		ID:    "grant-rbac/" + s.Namespace + "/" + s.ServiceAccount,
		Title: fmt.Sprintf("Grant ServiceAccount %s/%s %s (new Role and RoleBinding %s)", s.Namespace, s.ServiceAccount, strings.Join(verbs, "; "), s.RoleName()),
		Description: "The token authenticates; the 403 comes from RBAC. This creates a Role with exactly the denied verbs in the namespace and binds it to the " +
			"ServiceAccount. Undo deletes both.",
		Diff:          Diff("# Role and RoleBinding "+ref+": absent\n", manifest),
		Reversible:    true,
		Commands:      []string{"cat <<'EOF' | kubectl create -f -\n" + manifest + "EOF"},
		JudgedAgainst: []string{"every pod that runs as ServiceAccount " + s.Namespace + "/" + s.ServiceAccount + " gets exactly these verbs in namespace " + s.Namespace + "; no existing Role or binding changes"},
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Snapshot{}, err
		}
		if _, err := k.RbacV1().Roles(s.Namespace).Get(ctx, s.RoleName(), metav1.GetOptions{}); err == nil {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "create Role", Resource: ref, Err: errors.New("it exists already: not touching it")}
		} else if !apierrors.IsNotFound(err) {
			return Snapshot{}, kube.Map(err, "get Role", ref)
		}
		return Snapshot{Prior: []Object{{API: "kubernetes", Kind: "Role", Name: ref, Absent: true}, {API: "kubernetes", Kind: "RoleBinding", Name: ref, Absent: true}}}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := tokenKube(deps)
		if err != nil {
			return Outcome{}, err
		}
		var out Outcome
		err = snap.Steps.Do(NewUndo(undoDeleteObject, deleteObjectParams{Kind: "Role", Namespace: s.Namespace, Name: s.RoleName()}), func() (*UndoAction, error) {
			gr, err := k.RbacV1().Roles(s.Namespace).Create(ctx, role.DeepCopy(), metav1.CreateOptions{})
			if err != nil {
				if apierrors.IsAlreadyExists(err) {
					return nil, &apierr.Error{Kind: apierr.Conflict, Op: "create Role", Resource: ref, Err: errors.New("created by someone else since it was read")}
				}
				return nil, kube.Map(err, "create Role", ref)
			}
			out.Created = append(out.Created, Object{API: "kubernetes", Kind: "Role", Name: ref, Version: gr.ResourceVersion})
			done := NewUndo(undoDeleteObject, deleteObjectParams{Kind: "Role", Namespace: s.Namespace, Name: s.RoleName(), UID: string(gr.UID)})
			return &done, nil
		})
		if err != nil {
			return out, err
		}
		err = snap.Steps.Do(NewUndo(undoDeleteObject, deleteObjectParams{Kind: "RoleBinding", Namespace: s.Namespace, Name: s.RoleName()}), func() (*UndoAction, error) {
			gb, err := k.RbacV1().RoleBindings(s.Namespace).Create(ctx, rb.DeepCopy(), metav1.CreateOptions{})
			if err != nil {
				return nil, kube.Map(err, "create RoleBinding", ref)
			}
			out.Created = append(out.Created, Object{API: "kubernetes", Kind: "RoleBinding", Name: ref, Version: gb.ResourceVersion})
			done := NewUndo(undoDeleteObject, deleteObjectParams{Kind: "RoleBinding", Namespace: s.Namespace, Name: s.RoleName(), UID: string(gb.UID)})
			return &done, nil
		})
		if err != nil {
			return out, fmt.Errorf("the Role %s was created (undo deletes it), but the RoleBinding was not: %v", ref, err)
		}
		out.Message = fmt.Sprintf("created Role and RoleBinding %s for ServiceAccount %s", ref, s.ServiceAccount)
		return out, nil
	}
	return p
}
