package fixes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The fixes of pod-egress-cross-project (FAILURE-MODES §6, "Safe fixes"):
//   - A: the kube-system/ip-masq-agent ConfigMap whose nonMasqueradeCIDRs leaves out the peer's
//     ranges (their packets then leave with the node IP, which the peer routes back to) and always
//     keeps the pod, services and node ranges. The prior ConfigMap is journaled as it was; undo
//     writes it back (or deletes the ConfigMap when there was none), refusing to overwrite a change
//     made since. Without the DaemonSet a ConfigMap does nothing: advice only.
//   - B: exchange the routes over the peering, both sides (VPC-wide: a second confirmation):
//     updatePeering has no fingerprint in the typed client, so each side is read again right before
//     its write and the fix stops when it changed; undo sets the flags back. Plus, when the peer's
//     firewall does not admit the pod range, a rule in the peer's network (advice when the peer's
//     project refuses the write).
//   - C: advice for a VPC-native cluster (routes-based clusters cannot be converted in place).

const (
	undoRestoreIPMasq  = "kubernetes.restore-ip-masq-agent-configmap"
	undoRestorePeering = "compute.restore-peering-flags"

	ipMasqNamespace = "kube-system"
	ipMasqName      = "ip-masq-agent"
	ipMasqKey       = "config"
)

func init() {
	RegisterUndoer(undoRestoreIPMasq, undoRestoreIPMasqFn)
	RegisterUndoer(undoRestorePeering, undoRestorePeeringFn)
}

// --- A: ip-masq-agent ConfigMap ---

// IPMasqChange is fix A: the new "config" of kube-system/ip-masq-agent.
type IPMasqChange struct {
	Config string // the whole new configuration (YAML)
	// Prior is the "config" the check read ("" when the key or the ConfigMap was absent);
	// PriorExists says the ConfigMap existed. Apply stops when the live ConfigMap differs.
	Prior       string
	PriorExists bool
	PeerRanges  []string // masqueraded from now on
	Keep        []string // the pod, services and node ranges, always kept
	Resync      time.Duration
}

// IPMasqPlanID is fix A's id.
const IPMasqPlanID = "masquerade-peer-ranges/kube-system/ip-masq-agent"

type ipMasqUndoParams struct {
	Existed bool `json:"existed"`
	// Prior is the ConfigMap as it was (its data, binaryData, labels and annotations are written
	// back as they were).
	Prior *corev1.ConfigMap `json:"prior,omitempty"`
	// UID and ResourceVersion of the ConfigMap as the fix left it: undo refuses to overwrite a later
	// change.
	UID             string `json:"uid,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// NewIPMasqPlan builds fix A.
func NewIPMasqPlan(deps *Deps, o IPMasqChange) *Plan {
	ref := ipMasqNamespace + "/" + ipMasqName
	before := "# ConfigMap " + ref + ": absent\n"
	if o.PriorExists {
		before = "# ConfigMap " + ref + ", data.config:\n" + orNone(o.Prior)
	}
	after := "# ConfigMap " + ref + ", data.config:\n" + o.Config
	resync := o.Resync
	if resync <= 0 {
		resync = 60 * time.Second
	}
	p := &Plan{
		ID:    IPMasqPlanID,
		Title: fmt.Sprintf("Masquerade %s to the node IP (ip-masq-agent ConfigMap)", strings.Join(o.PeerRanges, ", ")),
		Description: fmt.Sprintf("Writes the %q key of the ConfigMap %s: nonMasqueradeCIDRs is the set in effect today without %s, plus the pod, services and node ranges (%s), so only packets to the peer change: "+
			"they leave with the node IP, which the peer always routes back to (subnet routes are always exchanged) and its firewall admits as it admits the nodes. "+
			"ip-masq-agent reloads it within its resyncInterval (%s); nothing restarts. Undo writes the ConfigMap back as it was (or deletes it if there was none).",
			ipMasqKey, ref, strings.Join(o.PeerRanges, ", "), strings.Join(o.Keep, ", "), shortDur(resync)),
		Diff:       Diff(before, after),
		Reversible: true,
		JudgedAgainst: []string{
			"every node's pods: their packets to " + strings.Join(o.PeerRanges, ", ") + " leave with the node IP from then on",
			"destinations kept unmasqueraded: " + strings.Join(o.Keep, ", "),
		},
		Commands: []string{
			"cat > config <<'EOF'\n" + o.Config + "EOF",
			"kubectl create configmap ip-masq-agent -n kube-system --from-file=config --dry-run=client -o yaml | kubectl apply -f -",
		},
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		cur, err := k.CoreV1().ConfigMaps(ipMasqNamespace).Get(ctx, ipMasqName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if o.PriorExists {
				return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "update ConfigMap", Resource: ref, Err: errors.New("it was deleted since the check read it")}
			}
			return Snapshot{Prior: []Object{{API: "kubernetes", Kind: "ConfigMap", Name: ref, Absent: true}},
				Undo: []UndoAction{NewUndo(undoRestoreIPMasq, ipMasqUndoParams{})}}, nil
		case err != nil:
			return Snapshot{}, kube.Map(err, "get ConfigMap", ref)
		}
		if !o.PriorExists || cur.Data[ipMasqKey] != o.Prior {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "update ConfigMap", Resource: ref, Err: errors.New("it changed since the check read it")}
		}
		b, err := json.Marshal(cur)
		if err != nil {
			return Snapshot{}, err
		}
		return Snapshot{Prior: []Object{{API: "kubernetes", Kind: "ConfigMap", Name: ref, Version: cur.ResourceVersion, Contents: b}},
			Undo: []UndoAction{NewUndo(undoRestoreIPMasq, ipMasqUndoParams{Existed: true, Prior: cur})}}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		var got *corev1.ConfigMap
		var prior *corev1.ConfigMap
		if len(snap.Prior) == 1 && !snap.Prior[0].Absent {
			prior = &corev1.ConfigMap{}
			if err := json.Unmarshal(snap.Prior[0].Contents, prior); err != nil {
				return Outcome{}, fmt.Errorf("journaled ConfigMap %s: %w", ref, err)
			}
			cm := prior.DeepCopy()
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[ipMasqKey] = o.Config
			got, err = k.CoreV1().ConfigMaps(ipMasqNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		} else {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ipMasqName, Namespace: ipMasqNamespace,
				Labels: map[string]string{LabelManagedBy: ManagedByValue}}, Data: map[string]string{ipMasqKey: o.Config}}
			got, err = k.CoreV1().ConfigMaps(ipMasqNamespace).Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return Outcome{}, &apierr.Error{Kind: apierr.Conflict, Op: "create ConfigMap", Resource: ref, Err: errors.New("created by someone else since it was read")}
			}
		}
		if err != nil {
			return Outcome{}, kube.Map(err, "write ConfigMap", ref)
		}
		got.ManagedFields = nil
		b, _ := json.Marshal(got)
		return Outcome{
			Message: fmt.Sprintf("wrote %s: pods' packets to %s leave with the node IP once ip-masq-agent reloads it (within %s)", ref, strings.Join(o.PeerRanges, ", "), shortDur(resync)),
			Created: []Object{{API: "kubernetes", Kind: "ConfigMap", Name: ref, Version: got.ResourceVersion, Contents: b}},
			Undo: []UndoAction{NewUndo(undoRestoreIPMasq, ipMasqUndoParams{Existed: prior != nil, Prior: prior,
				UID: string(got.UID), ResourceVersion: got.ResourceVersion})},
		}, nil
	}
	return p
}

func orNone(s string) string {
	if s == "" {
		return "(no config key)\n"
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

func undoRestoreIPMasqFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p ipMasqUndoParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("bad undo parameters: %w", err)
	}
	k, err := kubeOf(deps)
	if err != nil {
		return err
	}
	ref := ipMasqNamespace + "/" + ipMasqName
	cur, err := k.CoreV1().ConfigMaps(ipMasqNamespace).Get(ctx, ipMasqName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if !p.Existed {
			return Absent("ConfigMap " + ref)
		}
		return &apierr.Error{Kind: apierr.Conflict, Op: "restore ConfigMap", Resource: ref, Err: errors.New("it was deleted since the fix")}
	}
	if err != nil {
		return kube.Map(err, "get ConfigMap", ref)
	}
	if p.ResourceVersion != "" && (cur.ResourceVersion != p.ResourceVersion || string(cur.UID) != p.UID) {
		return &apierr.Error{Kind: apierr.Conflict, Op: "restore ConfigMap", Resource: ref,
			Err: fmt.Errorf("it changed since the fix (resourceVersion %s, the fix left %s)", cur.ResourceVersion, p.ResourceVersion)}
	}
	if p.ResourceVersion == "" {
		// Journaled before the write: the write may not have happened.
		if p.Existed && p.Prior != nil && maps.Equal(cur.Data, p.Prior.Data) && maps.EqualFunc(cur.BinaryData, p.Prior.BinaryData, bytes.Equal) {
			return Absent("ConfigMap " + ref + " (holds its saved data)")
		}
		if !p.Existed && cur.Labels[LabelManagedBy] != ManagedByValue {
			return &ChangedError{Resource: "ConfigMap " + ref, Why: "it is not labelled as created by gkedoctor, and the fix stopped before it learned what it created: it is someone else's"}
		}
	}
	if !p.Existed {
		uid, rv := cur.UID, cur.ResourceVersion
		err := k.CoreV1().ConfigMaps(ipMasqNamespace).Delete(ctx, ipMasqName, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return kube.Map(err, "delete ConfigMap", ref)
	}
	if p.Prior == nil {
		return fmt.Errorf("undo %s: the journal holds no prior ConfigMap", ref)
	}
	back := cur.DeepCopy()
	back.Data, back.BinaryData = p.Prior.Data, p.Prior.BinaryData
	back.Labels, back.Annotations = p.Prior.Labels, p.Prior.Annotations
	_, err = k.CoreV1().ConfigMaps(ipMasqNamespace).Update(ctx, back, metav1.UpdateOptions{})
	return kube.Map(err, "restore ConfigMap", ref)
}

// IPMasqDaemonSetAdvice is what is said instead of fix A when the DaemonSet does not run.
type IPMasqDaemonSetAdvice struct {
	PeerRanges                 []string
	SNATDisabled               bool
	Cluster, Location, Project string
}

// NewIPMasqDaemonSetAdvice: a ConfigMap alone does nothing without the agent; deploying it is a
// larger change than this tool makes on one key.
func NewIPMasqDaemonSetAdvice(a IPMasqDaemonSetAdvice) *Plan {
	why := "GKE applies its default non-masquerade destinations without the agent"
	if a.SNATDisabled {
		why = "the cluster was created with default SNAT disabled, so nothing masquerades pods' packets"
	}
	return &Plan{
		ID:     "deploy-ip-masq-agent/" + a.Cluster,
		Title:  fmt.Sprintf("Deploy ip-masq-agent to masquerade %s (a ConfigMap alone does nothing)", strings.Join(a.PeerRanges, ", ")),
		Advice: true, Reversible: true,
		JudgedAgainst: []string{"every node's pods of cluster " + a.Cluster + ": the agent rewrites how all their traffic leaves its node"},
		Description: "No ip-masq-agent DaemonSet runs in kube-system (" + why + "), so a kube-system/ip-masq-agent ConfigMap would change nothing and gkedoctor does not offer it. " +
			"Deploying the agent changes how every pod's traffic leaves its node: follow GKE's how-to (\"Configuring an IP masquerade agent\"), with nonMasqueradeCIDRs leaving out " +
			strings.Join(a.PeerRanges, ", ") + " and keeping the pod, services and node ranges. Or exchange the routes over the peering instead.",
		Commands: []string{
			"kubectl get daemonset ip-masq-agent -n kube-system",
			fmt.Sprintf("gcloud container clusters describe %s --location %s --project %s --format='value(networkConfig.defaultSnatStatus.disabled)'", a.Cluster, a.Location, a.Project),
			"# then: https://cloud.google.com/kubernetes-engine/docs/how-to/ip-masquerade-agent",
		},
	}
}

// --- B: exchange routes over the peering ---

// Peering fields fix B sets.
const (
	FieldExportCustomRoutes   = "exportCustomRoutes"
	FieldImportCustomRoutes   = "importCustomRoutes"
	FieldExportSubnetPublicIP = "exportSubnetRoutesWithPublicIp"
	FieldImportSubnetPublicIP = "importSubnetRoutesWithPublicIp"
)

var peeringFlagNames = map[string]string{
	FieldExportCustomRoutes: "--export-custom-routes", FieldImportCustomRoutes: "--import-custom-routes",
	FieldExportSubnetPublicIP: "--export-subnet-routes-with-public-ip", FieldImportSubnetPublicIP: "--import-subnet-routes-with-public-ip",
}

// PeeringSide is one side of the peering and the flags fix B turns on there.
type PeeringSide struct {
	Project, Network, Peering string
	Set                       []string // Field* names
}

func (s PeeringSide) ref() string { return "projects/" + s.Project + "/global/networks/" + s.Network }

func (s PeeringSide) command(on bool) string {
	var flags []string
	for _, f := range s.Set {
		fl := peeringFlagNames[f]
		if !on {
			fl = strings.Replace(fl, "--", "--no-", 1)
		}
		flags = append(flags, fl)
	}
	peering := s.Peering
	if peering == "" {
		peering = "PEER_PEERING"
	}
	return fmt.Sprintf("gcloud compute networks peerings update %s --network %s --project %s %s", peering, s.Network, s.Project, strings.Join(flags, " "))
}

// PeeringExchange is fix B.
type PeeringExchange struct {
	Ours, Theirs PeeringSide
	PublicIP     bool // subnet routes with public IPs, not custom routes
	Alternative  bool
	// TheirsUnreadable says why the peer's side could not be read: the plan is advice.
	TheirsUnreadable string
}

// PeeringExchangePlanID is fix B's id for one peering.
func PeeringExchangePlanID(o PeeringExchange) string {
	kind := "custom-routes"
	if o.PublicIP {
		kind = "public-ip-subnet-routes"
	}
	return "exchange-" + kind + "/" + o.Ours.Project + "/" + o.Ours.Peering
}

type peeringUndoParams struct {
	Project string `json:"project"`
	Network string `json:"network"`
	Peering string `json:"peering"`
	// Prior holds the fields' values before the fix; Set the values the fix wrote. Undo writes Prior
	// back only while the fields still hold Set.
	Prior map[string]bool `json:"prior"`
	Set   map[string]bool `json:"set"`
}

// NewPeeringExchangePlan builds fix B.
func NewPeeringExchangePlan(deps *Deps, o PeeringExchange) *Plan {
	what := "custom routes"
	if o.PublicIP {
		what = "subnet routes with privately used public IPs"
	}
	p := &Plan{
		ID:          PeeringExchangePlanID(o),
		Title:       fmt.Sprintf("Exchange %s over peering %s (both sides)", what, o.Ours.Peering),
		Reversible:  true,
		VPCWide:     true,
		Alternative: o.Alternative,
		Commands:    []string{o.Theirs.command(true), o.Ours.command(true)},
	}
	p.Affects = fmt.Sprintf("every %s network %s has is sent to %s, and %s takes every one %s sends - not only the pod range", strings.TrimSuffix(what, "s"), o.Ours.ref(), o.Theirs.ref(), o.Theirs.Network, o.Ours.Network)
	if !o.PublicIP {
		p.Affects = fmt.Sprintf("every custom route of network %s (static routes, including other clusters' pod routes, and dynamic routes) is exported to %s, which imports all of them; verify with listPeeringRoutes afterwards", o.Ours.ref(), o.Theirs.ref())
	}
	p.JudgedAgainst = []string{
		fmt.Sprintf("every custom route of network %s (exported to %s)", o.Ours.ref(), o.Theirs.ref()),
		fmt.Sprintf("every custom route of network %s (imported into %s)", o.Theirs.ref(), o.Ours.ref()),
	}
	if o.PublicIP {
		p.JudgedAgainst = []string{fmt.Sprintf("every subnet route with privately used public IPs of networks %s and %s", o.Ours.ref(), o.Theirs.ref())}
	}
	if o.TheirsUnreadable != "" {
		p.JudgedAgainst = append(p.JudgedAgainst, "not judged: the peer's side ("+o.TheirsUnreadable+")")
	}
	p.Description = fmt.Sprintf("Sets %s on %s's peering %s, then %s on %s (the peer's side first, so nothing is half-exchanged if it is refused). "+
		"VPC-wide: %s. Each side is read again right before its write and the fix stops if it changed (updatePeering has no fingerprint). Undo sets the flags back.",
		strings.Join(o.Theirs.Set, ", "), o.Theirs.ref(), orPlaceholderF(o.Theirs.Peering), strings.Join(o.Ours.Set, ", "), o.Ours.Peering, p.Affects)
	before, after := peeringDiff(o)
	p.Diff = Diff(before, after)
	if o.TheirsUnreadable != "" || o.Theirs.Peering == "" {
		p.Advice = true
		why := o.TheirsUnreadable
		if why == "" {
			why = o.Theirs.ref() + " has no peering back"
		}
		p.Description = fmt.Sprintf("The peer's side cannot be changed from here (%s): ask the owner of project %s to run the first command, then run the second. ", why, o.Theirs.Project) + p.Description
		return p
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		var snap Snapshot
		for _, s := range []PeeringSide{o.Theirs, o.Ours} {
			pe, err := readPeering(ctx, g, s)
			if err != nil {
				return Snapshot{}, err
			}
			b, _ := json.Marshal(pe)
			snap.Prior = append(snap.Prior, Object{API: "compute.googleapis.com", Kind: "NetworkPeering", Name: s.ref() + "/peerings/" + s.Peering, Contents: b})
		}
		return snap, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		sides := []PeeringSide{o.Theirs, o.Ours}
		seen := make([]*compute.NetworkPeering, len(sides))
		for i, s := range sides {
			seen[i] = &compute.NetworkPeering{}
			if i >= len(snap.Prior) || json.Unmarshal(snap.Prior[i].Contents, seen[i]) != nil {
				return Outcome{}, fmt.Errorf("the journal holds no snapshot of peering %s", s.Peering)
			}
		}
		// Both sides are compared before anything is written, and each again right before its write.
		for i, s := range sides {
			if _, err := unchangedPeering(ctx, g, s, seen[i]); err != nil {
				return Outcome{}, err
			}
		}
		var out Outcome
		for i, s := range sides {
			cur, err := unchangedPeering(ctx, g, s, seen[i])
			if err != nil {
				if i > 0 {
					// The peer's side is written already: a failure, not "nothing written", so the
					// journal keeps its undo.
					return out, fmt.Errorf("stopped after %s's side was written (undo reverts it): %w", o.Theirs.Network, errors.New(err.Error()))
				}
				return out, err
			}
			prior, set := map[string]bool{}, map[string]bool{}
			for _, f := range s.Set {
				prior[f], set[f] = peeringField(cur, f), true
			}
			// Journaled before the update (undo runs in reverse: ours first, then theirs).
			err = snap.Steps.Do(NewUndo(undoRestorePeering, peeringUndoParams{Project: s.Project, Network: s.Network, Peering: s.Peering, Prior: prior, Set: set}),
				func() (*UndoAction, error) { return nil, updatePeering(ctx, g, s, set) })
			if err != nil {
				if i > 0 {
					return out, fmt.Errorf("stopped after %s's side was written (undo reverts it): %v", o.Theirs.Network, err)
				}
				return out, err
			}
		}
		out.Message = fmt.Sprintf("peering %s and %s's peering %s now exchange %s; the routes appear in listPeeringRoutes within a minute", o.Ours.Peering, o.Theirs.Network, o.Theirs.Peering, what)
		return out, nil
	}
	return p
}

// unchangedPeering reads a side's peering and stops (a conflict) when it differs from what the
// snapshot saw.
func unchangedPeering(ctx context.Context, g *gcp.Clients, s PeeringSide, seen *compute.NetworkPeering) (*compute.NetworkPeering, error) {
	cur, err := readPeering(ctx, g, s)
	if err != nil {
		return nil, err
	}
	if !samePeering(seen, cur) {
		return nil, &apierr.Error{Kind: apierr.Conflict, Op: "update peering", Resource: s.ref() + "/peerings/" + s.Peering,
			Err: errors.New("the peering changed since it was read (state or exchange flags)")}
	}
	return cur, nil
}

func orPlaceholderF(s string) string {
	if s == "" {
		return "(its peering back)"
	}
	return s
}

func peeringDiff(o PeeringExchange) (string, string) {
	var b, a strings.Builder
	for _, s := range []PeeringSide{o.Theirs, o.Ours} {
		fmt.Fprintf(&b, "# %s peering %s\n", s.ref(), orPlaceholderF(s.Peering))
		fmt.Fprintf(&a, "# %s peering %s\n", s.ref(), orPlaceholderF(s.Peering))
		for _, f := range s.Set {
			fmt.Fprintf(&b, "%s: false\n", f)
			fmt.Fprintf(&a, "%s: true\n", f)
		}
	}
	return b.String(), a.String()
}

func readPeering(ctx context.Context, g *gcp.Clients, s PeeringSide) (*compute.NetworkPeering, error) {
	n, err := g.Compute.Networks.Get(s.Project, s.Network).Context(ctx).Do()
	if err != nil {
		return nil, gcp.MapWith(err, "get network", s.ref(), "compute.networks.get")
	}
	for _, pe := range n.Peerings {
		if pe != nil && pe.Name == s.Peering {
			return pe, nil
		}
	}
	return nil, &apierr.Error{Kind: apierr.Conflict, Op: "update peering", Resource: s.ref() + "/peerings/" + s.Peering, Err: errors.New("the peering no longer exists")}
}

// samePeering compares what fix B depends on: the peer, the state and the exchange flags.
func samePeering(a, b *compute.NetworkPeering) bool {
	key := func(p *compute.NetworkPeering) []any {
		return []any{gref.Network(p.Network, ""), p.State, p.ExportCustomRoutes, p.ImportCustomRoutes,
			p.ExportSubnetRoutesWithPublicIp, p.ImportSubnetRoutesWithPublicIp, p.StackType}
	}
	return reflect.DeepEqual(key(a), key(b))
}

func peeringField(p *compute.NetworkPeering, f string) bool {
	switch f {
	case FieldExportCustomRoutes:
		return p.ExportCustomRoutes
	case FieldImportCustomRoutes:
		return p.ImportCustomRoutes
	case FieldExportSubnetPublicIP:
		return p.ExportSubnetRoutesWithPublicIp
	case FieldImportSubnetPublicIP:
		return p.ImportSubnetRoutesWithPublicIp
	}
	return false
}

// updatePeering writes the given flags (false values included) and waits for the operation.
func updatePeering(ctx context.Context, g *gcp.Clients, s PeeringSide, vals map[string]bool) error {
	np := &compute.NetworkPeering{Name: s.Peering}
	keys := make([]string, 0, len(vals))
	for f := range vals {
		keys = append(keys, f)
	}
	sort.Strings(keys)
	for _, f := range keys {
		v := vals[f]
		switch f {
		case FieldExportCustomRoutes:
			np.ExportCustomRoutes = v
			np.ForceSendFields = append(np.ForceSendFields, "ExportCustomRoutes")
		case FieldImportCustomRoutes:
			np.ImportCustomRoutes = v
			np.ForceSendFields = append(np.ForceSendFields, "ImportCustomRoutes")
		case FieldExportSubnetPublicIP:
			np.ExportSubnetRoutesWithPublicIp = v
			np.ForceSendFields = append(np.ForceSendFields, "ExportSubnetRoutesWithPublicIp")
		case FieldImportSubnetPublicIP:
			np.ImportSubnetRoutesWithPublicIp = v
			np.ForceSendFields = append(np.ForceSendFields, "ImportSubnetRoutesWithPublicIp")
		}
	}
	ref := s.ref() + "/peerings/" + s.Peering
	op, err := g.Compute.Networks.UpdatePeering(s.Project, s.Network, &compute.NetworksUpdatePeeringRequest{NetworkPeering: np}).Context(ctx).Do()
	if err != nil {
		return gcp.MapWith(err, "update peering", ref, "compute.networks.updatePeering")
	}
	if err := waitGlobalOp(ctx, g, s.Project, op); err != nil {
		return fmt.Errorf("update peering %s: %w", ref, err)
	}
	return nil
}

func undoRestorePeeringFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p peeringUndoParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Project == "" || p.Network == "" || p.Peering == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	g, err := gcpOf(deps)
	if err != nil {
		return err
	}
	s := PeeringSide{Project: p.Project, Network: p.Network, Peering: p.Peering}
	cur, err := readPeering(ctx, g, s)
	if err != nil {
		return err
	}
	asBefore := true
	for f, v := range p.Prior {
		asBefore = asBefore && peeringField(cur, f) == v
	}
	if asBefore {
		// The fields hold their values from before: the update never happened, or was reverted.
		return Absent("exchange flags of peering " + s.ref() + "/peerings/" + s.Peering)
	}
	for f, v := range p.Set {
		if peeringField(cur, f) != v {
			return &apierr.Error{Kind: apierr.Conflict, Op: "restore peering", Resource: s.ref() + "/peerings/" + s.Peering,
				Err: fmt.Errorf("%s changed since the fix (now %t)", f, peeringField(cur, f))}
		}
	}
	return updatePeering(ctx, g, s, p.Prior)
}

// --- B: the peer's firewall rule for the pod range ---

// PortSpec is one protocol (and port; 0 for none) a rule allows.
type PortSpec struct {
	Protocol string
	Port     int
}

// PeerFirewallRule is a rule in the peer's network admitting the cluster's pod range.
type PeerFirewallRule struct {
	Project, Network, Name string // Network: projects/P/global/networks/N
	SourceRange            string // the pod range
	Destination            string // the destination range (the rule's destinationRanges)
	Allowed                []PortSpec
	Cluster                string
	// Unwritable says why the peer's project is known not to let us write (its network could not
	// even be read): the plan is advice with the command for its owner.
	Unwritable string
}

// PeerFirewallRuleName is allow-gke-pods-CLUSTER, shortened to a valid rule name.
func PeerFirewallRuleName(cluster string) string {
	n := strings.TrimRight(truncateName("allow-gke-pods-"+strings.ToLower(cluster), 63), "-")
	if !fwNameRE().MatchString(n) {
		n = "allow-gke-pods"
	}
	return n
}

func truncateName(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (o PeerFirewallRule) allowed() []*compute.FirewallAllowed {
	byProto := map[string][]string{}
	var order []string
	for _, a := range o.Allowed {
		if _, ok := byProto[a.Protocol]; !ok {
			order = append(order, a.Protocol)
			byProto[a.Protocol] = nil
		}
		if a.Port > 0 {
			byProto[a.Protocol] = append(byProto[a.Protocol], strconv.Itoa(a.Port))
		}
	}
	var out []*compute.FirewallAllowed
	for _, p := range order {
		out = append(out, &compute.FirewallAllowed{IPProtocol: p, Ports: byProto[p]})
	}
	return out
}

func (o PeerFirewallRule) rule() *compute.Firewall {
	return &compute.Firewall{Name: o.Name, Network: o.Network, Direction: "INGRESS", Priority: 1000,
		Description:       "gkedoctor: admits the pods of GKE cluster " + o.Cluster + " (" + o.SourceRange + ") as its nodes are admitted",
		SourceRanges:      []string{o.SourceRange},
		DestinationRanges: []string{o.Destination},
		Allowed:           o.allowed()}
}

func (o PeerFirewallRule) command() string {
	var allow []string
	for _, a := range o.allowed() {
		if len(a.Ports) == 0 {
			allow = append(allow, a.IPProtocol)
		}
		for _, p := range a.Ports {
			allow = append(allow, a.IPProtocol+":"+p)
		}
	}
	return fmt.Sprintf("gcloud compute firewall-rules create %s --project %s --network %s --direction INGRESS --priority 1000 --source-ranges %s --destination-ranges %s --allow %s",
		o.Name, o.Project, gref.NetworkName(o.Network), o.SourceRange, o.Destination, strings.Join(allow, ","))
}

// NewPeerFirewallPlan builds the peer firewall part of fix B (an alternative: it changes another
// project's firewall). A 403 from the peer's project turns it into advice with the command.
func NewPeerFirewallPlan(deps *Deps, o PeerFirewallRule) *Plan {
	ref := "projects/" + o.Project + "/global/firewalls/" + o.Name
	p := &Plan{
		ID:          "create-peer-firewall/" + o.Project + "/" + o.Name,
		Title:       fmt.Sprintf("Admit the pod range %s in %s's firewall (new rule %s)", o.SourceRange, gref.NetworkName(o.Network), o.Name),
		Description: fmt.Sprintf("Adds one ingress allow rule in the peer's network %s (project %s) from the pod range to %s, for the protocols and ports the peer admits the nodes on. It changes another project: its owner may prefer to add it. Undo deletes it.", o.Network, o.Project, o.Destination),
		Reversible:  true, Alternative: true,
		JudgedAgainst: []string{fmt.Sprintf("network %s of project %s: one more ingress allow, from pod range %s to %s only", gref.NetworkName(o.Network), o.Project, o.SourceRange, o.Destination)},
		Commands:      []string{o.command()},
		Diff:          Diff("# "+ref+": absent\n", fmt.Sprintf("# %s: INGRESS allow from %s to %s, priority 1000\n", ref, o.SourceRange, o.Destination)),
	}
	if o.Unwritable != "" {
		p.Advice = true
		p.Description = fmt.Sprintf("Project %s is the peer's and cannot be changed from here (%s): ask its network admin to run the command. ", o.Project, o.Unwritable) + p.Description
		return p
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		_, err = g.Compute.Firewalls.Get(o.Project, o.Name).Context(ctx).Do()
		if err == nil {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "create firewall rule", Resource: ref, Err: errors.New("a rule with that name already exists: not touching it")}
		}
		if err = gcp.Map(err, "get firewall rule", ref); apierr.KindOf(err) != apierr.NotFound {
			return Snapshot{}, err
		}
		return Snapshot{Prior: []Object{{API: "compute.googleapis.com", Kind: "Firewall", Name: ref, Absent: true}},
			Undo: []UndoAction{NewUndo(undoDeleteFirewall, deleteFirewallParams{Project: o.Project, Name: o.Name, Rule: o.rule()})}}, nil
	}
	p.Apply = func(ctx context.Context, _ Snapshot) (Outcome, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		op, err := g.Compute.Firewalls.Insert(o.Project, o.rule()).Context(ctx).Do()
		if err != nil {
			err = gcp.MapWith(err, "create firewall rule", ref, "compute.firewalls.create")
			if apierr.KindOf(err) == apierr.Permission {
				return Outcome{Undo: []UndoAction{}}, fmt.Errorf("%w; project %s is the peer's: ask its network admin to run: %s", err, o.Project, o.command())
			}
			return Outcome{}, err
		}
		if err := waitGlobalOp(ctx, g, o.Project, op); err != nil {
			return Outcome{}, fmt.Errorf("create firewall rule %s: %w", ref, err)
		}
		got, err := g.Compute.Firewalls.Get(o.Project, o.Name).Context(ctx).Do()
		if err != nil {
			return Outcome{Message: "created " + ref, Undo: []UndoAction{NewUndo(undoDeleteFirewall, deleteFirewallParams{Project: o.Project, Name: o.Name, Rule: o.rule()})}}, nil
		}
		b, _ := json.Marshal(got)
		return Outcome{Message: "created firewall rule " + ref,
			Created: []Object{{API: "compute.googleapis.com", Kind: "Firewall", Name: ref, Version: strconv.FormatUint(got.Id, 10), Contents: b}},
			Undo:    []UndoAction{NewUndo(undoDeleteFirewall, deleteFirewallParams{Project: o.Project, Name: o.Name, ID: got.Id, Rule: o.rule()})}}, nil
	}
	return p
}

// --- C and the peering itself: advice ---

// VPCNativeAdvice is fix C.
type VPCNativeAdvice struct {
	Project, Location, Cluster, Network, Subnetwork string
	PodRange, ServicesRange                         string
}

// NewVPCNativeAdvice: a routes-based cluster cannot be converted in place; a VPC-native one's pod
// range is a subnet range, always exchanged over peering.
func NewVPCNativeAdvice(a VPCNativeAdvice) *Plan {
	sub := a.Subnetwork
	if sub == "" {
		sub = "SUBNET"
	}
	return &Plan{
		ID:     "vpc-native-cluster/" + a.Cluster,
		Title:  fmt.Sprintf("Long term: move to a VPC-native cluster (%s is routes-based)", a.Cluster),
		Advice: true, Alternative: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("every workload of cluster %s (moved to a new cluster), network %s, and the pod range %s it gives up", a.Cluster, a.Network, orDash(a.PodRange, "(unknown)"))},
		Description: "In a VPC-native cluster pod IPs are alias IPs from a subnet secondary range, routed natively in the VPC and exchanged over peering like any subnet route, with no custom routes to export. " +
			"A routes-based cluster cannot be converted in place: create a new cluster with --enable-ip-alias, move the workloads, then delete the old one.",
		Commands: []string{
			fmt.Sprintf("gcloud container clusters create %s-vpc-native --location %s --project %s --enable-ip-alias --network %s --subnetwork %s --cluster-ipv4-cidr NEW_POD_RANGE --services-ipv4-cidr NEW_SERVICES_RANGE",
				a.Cluster, a.Location, a.Project, a.Network, sub),
			fmt.Sprintf("gcloud container clusters describe %s --location %s --project %s --format='value(ipAllocationPolicy.useIpAliases)'   # today: False (pod range %s)", a.Cluster, a.Location, a.Project, a.PodRange),
		},
	}
}

// PeeringAdvice is what to do about a peering that is not ACTIVE (or overlapping ranges).
type PeeringAdvice struct {
	Project, Network, Peering string
	PeerProject, PeerNetwork  string
	PeerPeering               string // "" when the peer has none back (or it could not be read)
	Why                       string
}

// NewPeeringAdvice: the peering needs both sides (and ranges that do not overlap); nothing here is
// applied: creating a peering in another project is its owner's decision.
func NewPeeringAdvice(a PeeringAdvice) *Plan {
	cmds := []string{
		fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", a.Network, a.Project),
		fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", a.PeerNetwork, a.PeerProject),
	}
	if a.PeerPeering == "" {
		cmds = append(cmds, fmt.Sprintf("gcloud compute networks peerings create %s --network %s --project %s --peer-project %s --peer-network %s   # in the peer's project",
			"peer-"+a.Project, a.PeerNetwork, a.PeerProject, a.Project, a.Network))
	}
	return &Plan{
		ID:     "review-peering/" + a.Project + "/" + a.Peering,
		Title:  fmt.Sprintf("Make peering %s ACTIVE on both sides, without overlapping ranges", a.Peering),
		Advice: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("every subnet range of networks %s/%s and %s/%s (none may overlap), and everything either network already peers with", a.Project, a.Network, a.PeerProject, a.PeerNetwork)},
		Description:   "A peering exchanges nothing until both networks have a peering to each other and it is ACTIVE; overlapping subnet ranges keep it from becoming ACTIVE (or keep routes from being used). " + a.Why,
		Commands:      cmds,
	}
}

// shortDur prints whole seconds as "60s" (time.Duration prints "1m0s").
func shortDur(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
