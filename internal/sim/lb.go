package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations and classes the GKE service controller reads (cloud-provider-gcp gce_annotations.go).
const (
	annLBType        = "networking.gke.io/load-balancer-type"
	annLBTypeLegacy  = "cloud.google.com/load-balancer-type"
	annGlobalAccess  = "networking.gke.io/internal-load-balancer-allow-global-access"
	annSourceRanges  = "service.beta.kubernetes.io/load-balancer-source-ranges"
	classILB         = "networking.gke.io/l4-regional-internal"
	classELB         = "networking.gke.io/l4-regional-external"
	healthCheckRule  = "k8s-" + ClusterHash + "9b2c4e6a-node-http-hc"
	serviceNameKey   = "kubernetes.io/service-name"
	serviceIPKey     = "kubernetes.io/service-ip"
	serviceCtrlName  = "service-controller"
	externalLBRange  = "34.78.0.0/16"
	provisionILBTime = 45 * time.Second // how long GKE takes for an internal LB, at production speed
	provisionELBTime = 60 * time.Second
)

// isInternalLB reports whether GKE would make svc's load balancer internal: spec.loadBalancerClass
// networking.gke.io/l4-regional-internal, or the annotation (the current key first, then the legacy
// one) equal to "Internal", any case.
func isInternalLB(svc *corev1.Service) bool {
	if c := svc.Spec.LoadBalancerClass; c != nil {
		return *c == classILB
	}
	for _, k := range []string{annLBType, annLBTypeLegacy} {
		if v, ok := svc.Annotations[k]; ok {
			return strings.EqualFold(v, "internal")
		}
	}
	return false
}

// lbController plays GKE's service controller for LoadBalancer Services: after a delay it reserves an
// address (internal: 10.132.0.6, then 10.132.0.5, then the next free one of the node subnet), creates
// the forwarding rule and the k8s-fw firewall rule, and writes status.loadBalancer.ingress, with the
// events a person sees in kubectl describe. Deleting the Service (or changing its type) tears it down.
type lbController struct {
	w    *World
	loop *loop

	mu       sync.Mutex
	lbs      map[types.UID]*lbState
	resyncAt time.Time // a firewall rule changed: re-check ours then
}

type lbState struct {
	ns, name    string
	internal    bool
	dueAt       time.Time
	provisioned bool
	ip          string
	lbName      string
	applied     string // fingerprint of the Service fields the Google objects were built from
	region      string
	askedAdmin  bool // LoadBalancerManualChange sent (GKE may not write the host's firewall)
}

func newLBController(w *World) *lbController {
	return &lbController{w: w, lbs: map[types.UID]*lbState{}}
}

// noteFirewallChange schedules a resync: GKE re-creates the firewall rules of its load balancers.
func (c *lbController) noteFirewallChange() {
	c.mu.Lock()
	at := time.Now().Add(c.w.after(30 * time.Second))
	if c.resyncAt.IsZero() || at.Before(c.resyncAt) {
		c.resyncAt = at
	}
	c.mu.Unlock()
	c.loop.Kick()
}

// lbName is the legacy GCE provider's load-balancer name: "a" and the Service's UID without dashes,
// cut at 32 characters.
func lbName(uid types.UID) string {
	n := "a" + strings.ReplaceAll(string(uid), "-", "")
	if len(n) > 32 {
		n = n[:32]
	}
	return n
}

func (c *lbController) reconcile(now time.Time) time.Time {
	k := c.w.kube
	ctx, cancel := context.WithTimeout(c.w.ctx, 10*time.Second)
	defer cancel()
	var next time.Time
	soon := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	c.mu.Lock()
	resync := !c.resyncAt.IsZero() && !now.Before(c.resyncAt)
	if resync {
		c.resyncAt = time.Time{}
	} else if !c.resyncAt.IsZero() {
		soon(c.resyncAt)
	}
	c.mu.Unlock()

	seen := map[types.UID]bool{}
	for _, svc := range k.services() {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		if cl := svc.Spec.LoadBalancerClass; cl != nil && *cl != classILB && *cl != classELB {
			continue // another controller's class
		}
		seen[svc.UID] = true
		internal := isInternalLB(&svc)
		c.mu.Lock()
		st := c.lbs[svc.UID]
		if st != nil && st.provisioned && st.internal != internal {
			c.mu.Unlock()
			c.teardown(ctx, st, &svc) // the scheme changed: a new load balancer
			c.mu.Lock()
			delete(c.lbs, svc.UID)
			st = nil
		}
		isNew := st == nil
		if isNew {
			d := provisionELBTime
			if internal {
				d = provisionILBTime
			}
			st = &lbState{ns: svc.Namespace, name: svc.Name, internal: internal, dueAt: now.Add(c.w.after(d)), lbName: lbName(svc.UID), region: Region}
			c.lbs[svc.UID] = st
		}
		s := *st
		c.mu.Unlock()
		if isNew {
			c.event(ctx, &svc, "EnsuringLoadBalancer", "Ensuring load balancer")
		}
		if !s.provisioned {
			if now.Before(s.dueAt) {
				soon(s.dueAt)
				continue
			}
			if len(svc.Spec.Selector) > 0 && !hasSlice(k, &svc) {
				// The backends (the Service's endpoints) come first, as health checks need them.
				soon(now.Add(10 * time.Millisecond))
				continue
			}
			ip, err := c.allocate(&svc, s.internal)
			if err != nil {
				c.event(ctx, &svc, "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer: "+err.Error())
				c.mu.Lock()
				st.dueAt = now.Add(max(c.w.after(time.Minute), 100*time.Millisecond))
				soon(st.dueAt)
				c.mu.Unlock()
				continue
			}
			s.ip = ip
			c.ensureGoogleObjects(&svc, &s)
			c.mu.Lock()
			st.ip, st.provisioned, st.applied = ip, true, fingerprintLB(&svc)
			c.mu.Unlock()
			if err := c.setStatus(ctx, svc.Namespace, svc.Name, ip); err != nil {
				soon(now.Add(50 * time.Millisecond))
			}
			c.event(ctx, &svc, "EnsuredLoadBalancer", "Ensured load balancer")
			continue
		}
		if fp := fingerprintLB(&svc); fp != s.applied || resync {
			c.ensureGoogleObjects(&svc, &s)
			c.mu.Lock()
			st.applied = fp
			c.mu.Unlock()
			if fp != s.applied {
				c.event(ctx, &svc, "UpdatedLoadBalancer", "Updated load balancer with new hosts")
			}
		}
		if len(svc.Status.LoadBalancer.Ingress) != 1 || svc.Status.LoadBalancer.Ingress[0].IP != s.ip {
			if err := c.setStatus(ctx, svc.Namespace, svc.Name, s.ip); err != nil {
				soon(now.Add(50 * time.Millisecond))
			}
		}
	}
	c.mu.Lock()
	var gone []*lbState
	var goneUIDs []types.UID
	for uid, st := range c.lbs {
		if !seen[uid] {
			gone = append(gone, st)
			goneUIDs = append(goneUIDs, uid)
		}
	}
	for _, uid := range goneUIDs {
		delete(c.lbs, uid)
	}
	c.mu.Unlock()
	for _, st := range gone {
		svc, err := getT[*corev1.Service](k, gvrServices, st.ns, st.name)
		if err != nil {
			svc = nil
		}
		c.teardown(ctx, st, svc)
	}
	return next
}

func hasSlice(k *kubeSide, svc *corev1.Service) bool {
	for _, es := range k.endpointSlices(svc.Namespace) {
		if es.Labels["kubernetes.io/service-name"] == svc.Name {
			return true
		}
	}
	return false
}

// fingerprintLB is what the Google objects are built from.
func fingerprintLB(svc *corev1.Service) string {
	b, _ := json.Marshal([]any{svc.Spec.Ports, svc.Spec.LoadBalancerSourceRanges, svc.Annotations[annGlobalAccess], svc.Annotations[annSourceRanges]})
	return string(b)
}

// allocate picks the load balancer's address.
func (c *lbController) allocate(svc *corev1.Service, internal bool) (string, error) {
	g := c.w.gcp
	used := map[string]bool{APIPrivateEndpoint: true}
	for _, n := range nodes {
		used[n.ip] = true
	}
	for _, fr := range g.ForwardingRules(Project, "") {
		used[fr.IPAddress] = true
	}
	reserved := map[string]bool{}
	for _, a := range g.Addresses(Project, "") {
		reserved[a.Address] = true
	}
	c.mu.Lock()
	for _, st := range c.lbs {
		if st.ip != "" {
			used[st.ip] = true
		}
	}
	c.mu.Unlock()
	if want := svc.Spec.LoadBalancerIP; want != "" {
		ip, err := netip.ParseAddr(want)
		if err != nil {
			return "", fmt.Errorf("loadBalancerIP %q is not an IP address", want)
		}
		if internal && !mustPrefix(NodeCIDR).Contains(ip) {
			return "", fmt.Errorf("requested IP %q is not within the range of subnetwork %q (%s)", want, Subnet, NodeCIDR)
		}
		if used[want] {
			return "", fmt.Errorf("IP %q is already being used by another resource", want)
		}
		return want, nil
	}
	if !internal {
		all := map[string]bool{}
		for k := range used {
			all[k] = true
		}
		for k := range reserved {
			all[k] = true
		}
		ip, ok := allocate(mustPrefix(externalLBRange), svc.Namespace+"/"+svc.Name, all)
		if !ok {
			return "", fmt.Errorf("no external address left")
		}
		return ip, nil
	}
	for _, ip := range []string{FirstILBIP, SecondILBIP} {
		if !used[ip] && !reserved[ip] {
			return ip, nil
		}
	}
	pfx := mustPrefix(NodeCIDR)
	for a := netip.MustParseAddr("10.132.0.8"); pfx.Contains(a.Next()); a = a.Next() {
		if !used[a.String()] && !reserved[a.String()] {
			return a.String(), nil
		}
	}
	return "", fmt.Errorf("no free IP address in subnetwork %q", Subnet)
}

// ensureGoogleObjects creates or replaces the forwarding rule and the firewall rules of s.
func (c *lbController) ensureGoogleObjects(svc *corev1.Service, s *lbState) {
	g := c.w.gcp
	desc, _ := json.Marshal(map[string]string{serviceNameKey: svc.Namespace + "/" + svc.Name})
	byProto := map[string][]string{}
	var protos []string
	for _, p := range svc.Spec.Ports {
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		if _, ok := byProto[proto]; !ok {
			protos = append(protos, proto)
		}
		byProto[proto] = append(byProto[proto], strconv.Itoa(int(p.Port)))
	}
	sort.Strings(protos)
	fr := &compute.ForwardingRule{Name: s.lbName, Description: string(desc), IPAddress: s.ip, NetworkTier: "PREMIUM"}
	var ports []string
	for _, p := range protos {
		ports = append(ports, byProto[p]...)
	}
	switch {
	case len(protos) == 1:
		fr.IPProtocol = strings.ToUpper(protos[0])
	case len(protos) > 1:
		fr.IPProtocol = "L3_DEFAULT"
	}
	if s.internal {
		fr.LoadBalancingScheme = "INTERNAL"
		fr.Network = networkURL(c.w.lay.netProject, c.w.lay.netName)
		fr.Subnetwork = computeURL + "projects/" + c.w.lay.netProject + "/regions/" + Region + "/subnetworks/" + c.w.lay.netSubnet
		fr.BackendService = computeURL + "projects/" + Project + "/regions/" + Region + "/backendServices/" + s.lbName
		fr.AllowGlobalAccess = svc.Annotations[annGlobalAccess] == "true"
		if len(ports) > 5 || fr.IPProtocol == "L3_DEFAULT" {
			fr.AllPorts = true
		} else {
			fr.Ports = ports
		}
	} else {
		fr.LoadBalancingScheme = "EXTERNAL"
		fr.Target = computeURL + "projects/" + Project + "/regions/" + Region + "/targetPools/" + s.lbName
		if len(ports) > 0 {
			fr.PortRange = ports[0] + "-" + ports[len(ports)-1]
		}
	}
	if cur := findRule(g.ForwardingRules(Project, Region), fr.Name); cur == nil || !sameForwarding(cur, fr) {
		if cur != nil { // an update keeps the rule's identity
			fr.Id, fr.CreationTimestamp = cur.Id, cur.CreationTimestamp
		}
		g.AddForwardingRule(Project, Region, fr)
	}

	sources := svc.Spec.LoadBalancerSourceRanges
	if len(sources) == 0 && svc.Annotations[annSourceRanges] != "" {
		for _, r := range strings.Split(svc.Annotations[annSourceRanges], ",") {
			if r = strings.TrimSpace(r); r != "" {
				sources = append(sources, r)
			}
		}
	}
	if len(sources) == 0 {
		sources = []string{"0.0.0.0/0"}
	}
	fwDesc, _ := json.Marshal(map[string]string{serviceNameKey: svc.Namespace + "/" + svc.Name, serviceIPKey: s.ip})
	// GKE writes its rules into the network's project (a Shared VPC host, where the demo's GKE service
	// agent holds the firewall role).
	np, nn := c.w.lay.netProject, c.w.lay.netName
	fw := &compute.Firewall{Name: "k8s-fw-" + s.lbName, Description: string(fwDesc), Network: nn, Direction: "INGRESS",
		Priority: 1000, SourceRanges: sources, TargetTags: []string{NodeTag}}
	for _, p := range protos {
		fw.Allowed = append(fw.Allowed, &compute.FirewallAllowed{IPProtocol: p, Ports: byProto[p]})
	}
	if c.w.lay.gkeNoFirewall {
		// GKE's service agent holds no firewall role in the Shared VPC host: it asks a security
		// admin instead (raiseFirewallChangeNeededEvent), once.
		if !s.askedAdmin {
			s.askedAdmin = true
			var allow []string
			for _, p := range protos {
				allow = append(allow, p+":"+strings.Join(byProto[p], ","))
			}
			msg := fmt.Sprintf("Firewall change required by security admin: `gcloud compute firewall-rules create %s --network %s --description \"%s\" --allow %s --source-ranges %s --target-tags %s --project %s`",
				fw.Name, nn, strings.ReplaceAll(fw.Description, `"`, `\"`), strings.Join(allow, ","), strings.Join(sources, ","), NodeTag, np)
			ctx, cancel := context.WithTimeout(c.w.ctx, 5*time.Second)
			c.event(ctx, svc, "LoadBalancerManualChange", msg)
			cancel()
		}
		return
	}
	if fws := g.Firewalls(np); !sameRule(fws, fw) {
		for _, cur := range fws {
			if cur.Name == fw.Name {
				fw.Id, fw.CreationTimestamp = cur.Id, cur.CreationTimestamp
			}
		}
		g.AddFirewall(np, fw)
	}
	if !firewallExists(g.Firewalls(np), healthCheckRule) {
		g.AddFirewall(np, &compute.Firewall{Name: healthCheckRule, Network: nn, Direction: "INGRESS", Priority: 1000,
			Description:  `{"kubernetes.io/cluster-id":"` + ClusterHash + `9b2c4e6a"}`,
			SourceRanges: []string{"130.211.0.0/22", "35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}, TargetTags: []string{NodeTag},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"10256"}}}})
	}
}

func findRule(frs []*compute.ForwardingRule, name string) *compute.ForwardingRule {
	for _, fr := range frs {
		if fr.Name == name {
			return fr
		}
	}
	return nil
}

func sameForwarding(a, b *compute.ForwardingRule) bool {
	return a.IPAddress == b.IPAddress && a.IPProtocol == b.IPProtocol && a.LoadBalancingScheme == b.LoadBalancingScheme &&
		a.AllPorts == b.AllPorts && reflect.DeepEqual(a.Ports, b.Ports) && a.PortRange == b.PortRange &&
		a.AllowGlobalAccess == b.AllowGlobalAccess && a.Description == b.Description
}

func firewallExists(fws []*compute.Firewall, name string) bool {
	for _, f := range fws {
		if f.Name == name {
			return true
		}
	}
	return false
}

func sameRule(fws []*compute.Firewall, want *compute.Firewall) bool {
	for _, f := range fws {
		if f.Name == want.Name {
			return reflect.DeepEqual(f.SourceRanges, want.SourceRanges) && reflect.DeepEqual(f.TargetTags, want.TargetTags) &&
				len(f.Allowed) == len(want.Allowed) && f.Description == want.Description && allowedEqual(f.Allowed, want.Allowed)
		}
	}
	return false
}

func allowedEqual(a, b []*compute.FirewallAllowed) bool {
	for i := range a {
		if a[i].IPProtocol != b[i].IPProtocol || !reflect.DeepEqual(a[i].Ports, b[i].Ports) {
			return false
		}
	}
	return true
}

// teardown deletes the Google objects of a load balancer and, when the Service still exists, clears
// its status.
func (c *lbController) teardown(ctx context.Context, st *lbState, svc *corev1.Service) {
	g := c.w.gcp
	ref := svc
	if ref == nil {
		ref = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: st.ns, Name: st.name}}
	}
	if st.provisioned {
		c.event(ctx, ref, "DeletingLoadBalancer", "Deleting load balancer")
	}
	g.DeleteForwardingRule(Project, st.region, st.lbName)
	g.DeleteFirewall(c.w.lay.netProject, "k8s-fw-"+st.lbName)
	if svc != nil && len(svc.Status.LoadBalancer.Ingress) > 0 {
		cur := svc.DeepCopy()
		cur.Status.LoadBalancer = corev1.LoadBalancerStatus{}
		_, _ = c.w.kube.rw.CoreV1().Services(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	}
	if st.provisioned {
		c.event(ctx, ref, "DeletedLoadBalancer", "Deleted load balancer")
	}
}

func (c *lbController) setStatus(ctx context.Context, ns, name, ip string) error {
	cur, err := getT[*corev1.Service](c.w.kube, gvrServices, ns, name)
	if err != nil {
		return err
	}
	next := cur.DeepCopy()
	next.Status.LoadBalancer = corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: ip, IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}}
	_, err = c.w.kube.rw.CoreV1().Services(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	return err
}

// event records a Normal (or Warning, for failures) event on a Service, as the service controller does.
func (c *lbController) event(ctx context.Context, svc *corev1.Service, reason, msg string) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	typ := corev1.EventTypeNormal
	if strings.Contains(reason, "Failed") {
		typ = corev1.EventTypeWarning
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", svc.Name, time.Now().UnixNano()), Namespace: svc.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: svc.Namespace, Name: svc.Name,
			UID: svc.UID, ResourceVersion: svc.ResourceVersion},
		Reason: reason, Message: msg, Type: typ, Count: 1, FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: serviceCtrlName}, ReportingController: serviceCtrlName,
	}
	_, _ = c.w.kube.rw.CoreV1().Events(svc.Namespace).Create(ctx, ev, metav1.CreateOptions{})
}
