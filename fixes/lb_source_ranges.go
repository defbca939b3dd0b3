package fixes

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The source-ranges fix: an internal load balancer Service whose spec.loadBalancerSourceRanges leaves
// out the client's source range (the connector's /28, the Direct VPC subnet) gets that range added to
// the list, and nothing else. GKE writes the list into the load balancer's firewall rule, so this is
// the change that keeps the restriction the owner chose; a broad allow rule to the nodes' tag would
// defeat it. The patch carries the resourceVersion read (a concurrent change stops it); undo puts the
// previous list back, only while the list is still what the fix set.

const undoRestoreSourceRanges = "kubernetes.restore-lb-source-ranges"

func init() { RegisterUndoer(undoRestoreSourceRanges, undoRestoreSourceRangesFn) }

// SourceRanges describes the change.
type SourceRanges struct {
	Namespace, Name string
	UID             types.UID
	Prior           []string // the list as the check read it
	Add             string   // the client's range
	Client          string   // who needs it, for the description ("Cloud Run gke-connectivity-tester4")
}

func (o SourceRanges) ref() string { return o.Namespace + "/" + o.Name }

func (o SourceRanges) after() []string { return append(slices.Clone(o.Prior), o.Add) }

// SourceRangesPatchCommand is the kubectl command a person would run instead.
func SourceRangesPatchCommand(ns, name string, ranges []string) string {
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{"loadBalancerSourceRanges": ranges}})
	return fmt.Sprintf("kubectl patch service %s -n %s --type merge -p '%s'", name, ns, b)
}

type restoreSourceRangesParams struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	UID       string   `json:"uid,omitempty"`
	Prior     []string `json:"prior"`
	Set       []string `json:"set"`
}

// NewSourceRangesPlan builds the fix.
func NewSourceRangesPlan(deps *Deps, o SourceRanges) *Plan {
	ref := o.ref()
	after := o.after()
	p := &Plan{
		ID:    "lb-source-ranges/" + o.Namespace + "/" + o.Name + "/" + strings.ReplaceAll(o.Add, "/", "_"),
		Title: fmt.Sprintf("Add %s (%s) to loadBalancerSourceRanges of %s", o.Add, o.Client, ref),
		Description: fmt.Sprintf("spec.loadBalancerSourceRanges of %s admits only %s; GKE copies it into the load balancer's firewall rule, so %s's packets from %s are dropped. "+
			"The fix adds that one range to the list, under the resourceVersion read, and changes nothing else: the other ranges stay restricted as their owner chose. "+
			"GKE then updates the firewall rule. Undo puts the previous list back.", ref, strings.Join(o.Prior, ", "), o.Client, o.Add),
		Diff:       Diff("spec:\n  loadBalancerSourceRanges: ["+strings.Join(o.Prior, ", ")+"]\n", "spec:\n  loadBalancerSourceRanges: ["+strings.Join(after, ", ")+"]\n"),
		Reversible: true,
		Affects:    "GKE rewrites the firewall rule of " + ref + "'s load balancer to admit " + o.Add + " too",
		JudgedAgainst: []string{"the ranges Service " + ref + " admits today, kept: " + orDash(strings.Join(o.Prior, ", "), "none"),
			"the load balancer's firewall rule (GKE's k8s-fw-…): it admits " + o.Add + " too, to every port of " + ref},
		Commands: []string{
			fmt.Sprintf("kubectl get service %s -n %s -o jsonpath='{.spec.loadBalancerSourceRanges}'   # keep the list as it is", o.Name, o.Namespace),
			SourceRangesPatchCommand(o.Namespace, o.Name, after),
		},
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		cur, err := k.CoreV1().Services(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			return Snapshot{}, kube.Map(err, "get Service", ref)
		}
		conflict := func(format string, args ...any) error {
			return &apierr.Error{Kind: apierr.Conflict, Op: "patch Service", Resource: ref, Err: fmt.Errorf(format, args...)}
		}
		switch {
		case o.UID != "" && cur.UID != o.UID:
			return Snapshot{}, conflict("it was re-created since the check read it (UID %s, read %s)", cur.UID, o.UID)
		case !slices.Equal(cur.Spec.LoadBalancerSourceRanges, o.Prior):
			return Snapshot{}, conflict("its loadBalancerSourceRanges changed since the check read it (now %v, read %v)", cur.Spec.LoadBalancerSourceRanges, o.Prior)
		}
		b, _ := json.Marshal(map[string]any{"loadBalancerSourceRanges": cur.Spec.LoadBalancerSourceRanges})
		return Snapshot{
			Prior: []Object{{API: "kubernetes", Kind: "Service (spec.loadBalancerSourceRanges)", Name: ref, Version: cur.ResourceVersion, Contents: b}},
			Undo:  []UndoAction{NewUndo(undoRestoreSourceRanges, restoreSourceRangesParams{Namespace: o.Namespace, Name: o.Name, UID: string(cur.UID), Prior: o.Prior, Set: after})},
		}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		rv, err := snap.RequireVersion()
		if err != nil {
			return Outcome{}, err
		}
		body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": rv}, "spec": map[string]any{"loadBalancerSourceRanges": after}})
		got, err := k.CoreV1().Services(o.Namespace).Patch(ctx, o.Name, types.MergePatchType, body, metav1.PatchOptions{})
		if err != nil {
			return Outcome{}, kube.Map(err, "patch Service", ref)
		}
		return Outcome{Message: fmt.Sprintf("%s now admits %v (resourceVersion %s); GKE updates its load balancer's firewall rule", ref, got.Spec.LoadBalancerSourceRanges, got.ResourceVersion)}, nil
	}
	return p
}

func undoRestoreSourceRangesFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p restoreSourceRangesParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Namespace == "" || p.Name == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	k, err := kubeOf(deps)
	if err != nil {
		return err
	}
	ref := p.Namespace + "/" + p.Name
	conflict := func(format string, args ...any) error {
		return &apierr.Error{Kind: apierr.Conflict, Op: "restore loadBalancerSourceRanges", Resource: ref, Err: fmt.Errorf(format, args...)}
	}
	cur, err := k.CoreV1().Services(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return conflict("it was deleted since the fix; not re-creating it")
	}
	if err != nil {
		return kube.Map(err, "get Service", ref)
	}
	switch {
	case p.UID != "" && string(cur.UID) != p.UID:
		return conflict("it was re-created since the fix (UID %s, the fix changed %s)", cur.UID, p.UID)
	case slices.Equal(cur.Spec.LoadBalancerSourceRanges, p.Prior):
		return nil // already back
	case !slices.Equal(cur.Spec.LoadBalancerSourceRanges, p.Set):
		return conflict("its loadBalancerSourceRanges are now %v, not the %v the fix set: someone changed them since; not overwriting", cur.Spec.LoadBalancerSourceRanges, p.Set)
	}
	var prior any = p.Prior
	if len(p.Prior) == 0 {
		prior = nil
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": cur.ResourceVersion}, "spec": map[string]any{"loadBalancerSourceRanges": prior}})
	if _, err := k.CoreV1().Services(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		return kube.Map(err, "restore Service", ref)
	}
	return nil
}
