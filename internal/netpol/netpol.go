// Package netpol evaluates Kubernetes NetworkPolicies (networking.k8s.io/v1) for one question the
// reachability checks ask: does the ingress policy of a namespace admit packets from a source range
// outside the cluster (a Serverless VPC connector's /28, a Direct VPC subnet) to a pod on a port?
//
// It is pure: the policies, the pod's labels and container ports, and the source are inputs; no
// client is called. The semantics follow the API's documentation:
//   - a pod is isolated for ingress when at least one policy of its namespace selects it (podSelector,
//     an empty selector selecting every pod) and has Ingress in its policyTypes (policyTypes empty:
//     Ingress always);
//   - an isolated pod accepts a packet when at least one ingress rule of one selecting policy admits
//     it (policies are additive: their union);
//   - a rule with no from admits every source; a peer with ipBlock admits its cidr minus except; a
//     podSelector or namespaceSelector peer admits only pods, never an address outside the cluster;
//   - a rule with no ports admits every port; a port entry admits its protocol (TCP when unset) and
//     its port — a number, a range up to endPort, or a named container port of the pod — or every port
//     of the protocol when the port is unset.
//
// The source is a range: it is admitted only when every address of it is (a connector's instances
// use any address of the /28).
package netpol

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is what the evaluation needs of the destination pod.
type Pod struct {
	Namespace string
	Labels    map[string]string
	// Ports are the pod's named container ports: name → port and protocol.
	Ports map[string]NamedPort
}

// NamedPort is one named container port.
type NamedPort struct {
	Port     int32
	Protocol corev1.Protocol
}

// Packet is the packet to judge: from Source to the pod's Port (the pod's own port, after the
// Service's translation) over Protocol (TCP when empty).
type Packet struct {
	Source   netip.Prefix
	Port     int32
	Protocol corev1.Protocol
}

// Verdict is the answer.
type Verdict struct {
	// Isolated: at least one policy selects the pod for ingress. When false every source is admitted.
	Isolated bool
	// Selecting names the policies (NS/NAME) that select the pod for ingress, sorted.
	Selecting []string
	// Admitted: every address of the source may reach the port.
	Admitted bool
	// AdmittedBy names the policies with a rule admitting (part of) the source on the port.
	AdmittedBy []string
	// NotAdmitted are the parts of the source no rule admits (empty when Admitted).
	NotAdmitted []netip.Prefix
	// Unresolved names the named ports a rule uses that the pod does not declare (such a rule admits
	// nothing for this pod, as the API says; listed so the evidence can say why).
	Unresolved []string
}

// Evaluate decides p against the policies of the pod's namespace (policies of other namespaces are
// ignored). A policy whose podSelector cannot be parsed is reported as an error: gkedoctor does not
// guess what it selects.
func Evaluate(policies []networkingv1.NetworkPolicy, pod Pod, p Packet) (Verdict, error) {
	var v Verdict
	if p.Protocol == "" {
		p.Protocol = corev1.ProtocolTCP
	}
	src := p.Source.Masked()
	var admitted []netip.Prefix
	by := map[string]bool{}
	unresolved := map[string]bool{}
	for i := range policies {
		np := &policies[i]
		if np.Namespace != pod.Namespace || !hasIngress(np) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			return Verdict{}, fmt.Errorf("NetworkPolicy %s/%s: podSelector: %w", np.Namespace, np.Name, err)
		}
		if !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		ref := np.Namespace + "/" + np.Name
		v.Isolated = true
		v.Selecting = append(v.Selecting, ref)
		for _, rule := range np.Spec.Ingress {
			ok, missing := portsAdmit(rule.Ports, pod, p)
			for _, m := range missing {
				unresolved[m] = true
			}
			if !ok {
				continue
			}
			got, err := peersAdmit(rule.From, src)
			if err != nil {
				return Verdict{}, fmt.Errorf("NetworkPolicy %s: %w", ref, err)
			}
			if len(got) > 0 {
				admitted = append(admitted, got...)
				by[ref] = true
			}
		}
	}
	sort.Strings(v.Selecting)
	for r := range by {
		v.AdmittedBy = append(v.AdmittedBy, r)
	}
	sort.Strings(v.AdmittedBy)
	for u := range unresolved {
		v.Unresolved = append(v.Unresolved, u)
	}
	sort.Strings(v.Unresolved)
	if !v.Isolated {
		v.Admitted = true
		return v, nil
	}
	v.NotAdmitted = subtract([]netip.Prefix{src}, admitted)
	v.Admitted = len(v.NotAdmitted) == 0
	return v, nil
}

// hasIngress reports whether the policy governs ingress: policyTypes names Ingress, or is empty (the
// API then defaults it to Ingress, plus Egress when there are egress rules).
func hasIngress(np *networkingv1.NetworkPolicy) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return true
	}
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress {
			return true
		}
	}
	return false
}

// portsAdmit reports whether the rule's ports admit the packet, and which named ports it could not
// resolve against the pod.
func portsAdmit(ports []networkingv1.NetworkPolicyPort, pod Pod, p Packet) (bool, []string) {
	if len(ports) == 0 {
		return true, nil
	}
	var missing []string
	for _, pp := range ports {
		proto := corev1.ProtocolTCP
		if pp.Protocol != nil && *pp.Protocol != "" {
			proto = *pp.Protocol
		}
		if proto != p.Protocol {
			continue
		}
		if pp.Port == nil {
			return true, nil // every port of the protocol
		}
		if pp.Port.Type == intstr.String {
			np, ok := pod.Ports[pp.Port.StrVal]
			if !ok {
				missing = append(missing, pp.Port.StrVal)
				continue
			}
			np.Protocol = orTCP(np.Protocol)
			if np.Port == p.Port && np.Protocol == p.Protocol {
				return true, nil
			}
			continue
		}
		lo := pp.Port.IntVal
		hi := lo
		if pp.EndPort != nil && *pp.EndPort >= lo {
			hi = *pp.EndPort
		}
		if p.Port >= lo && p.Port <= hi {
			return true, nil
		}
	}
	return false, missing
}

func orTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// peersAdmit returns the parts of src the rule's peers admit: all of it for a rule with no peers,
// else each ipBlock's cidr minus its except, intersected with src. Pod and namespace selectors admit
// pods only, never an address outside the cluster.
func peersAdmit(from []networkingv1.NetworkPolicyPeer, src netip.Prefix) ([]netip.Prefix, error) {
	if len(from) == 0 {
		return []netip.Prefix{src}, nil
	}
	var out []netip.Prefix
	for _, peer := range from {
		if peer.IPBlock == nil {
			continue
		}
		cidr, err := netip.ParsePrefix(strings.TrimSpace(peer.IPBlock.CIDR))
		if err != nil {
			return nil, fmt.Errorf("ipBlock cidr %q: %w", peer.IPBlock.CIDR, err)
		}
		var except []netip.Prefix
		for _, e := range peer.IPBlock.Except {
			ep, err := netip.ParsePrefix(strings.TrimSpace(e))
			if err != nil {
				return nil, fmt.Errorf("ipBlock except %q: %w", e, err)
			}
			except = append(except, ep.Masked())
		}
		block := subtract([]netip.Prefix{cidr.Masked()}, except)
		for _, b := range block {
			if in, ok := intersect(b, src); ok {
				out = append(out, in)
			}
		}
	}
	return out, nil
}

// intersect returns the common part of two prefixes (one contains the other, or none).
func intersect(a, b netip.Prefix) (netip.Prefix, bool) {
	if a.Addr().BitLen() != b.Addr().BitLen() || !a.Overlaps(b) {
		return netip.Prefix{}, false
	}
	if a.Bits() >= b.Bits() {
		return a, true
	}
	return b, true
}

// subtract returns from minus every prefix of minus, as prefixes.
func subtract(from, minus []netip.Prefix) []netip.Prefix {
	cur := append([]netip.Prefix(nil), from...)
	for _, m := range minus {
		var next []netip.Prefix
		for _, c := range cur {
			next = append(next, subtractOne(c, m)...)
		}
		cur = next
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].Addr().Less(cur[j].Addr()) })
	return cur
}

func subtractOne(c, m netip.Prefix) []netip.Prefix {
	switch {
	case c.Addr().BitLen() != m.Addr().BitLen() || !c.Overlaps(m):
		return []netip.Prefix{c}
	case m.Bits() <= c.Bits():
		return nil
	}
	bits := c.Bits() + 1
	lo := netip.PrefixFrom(c.Addr(), bits)
	b := c.Addr().AsSlice()
	i := c.Bits()
	b[i/8] |= 0x80 >> (i % 8)
	a, _ := netip.AddrFromSlice(b)
	hi := netip.PrefixFrom(a, bits)
	return append(subtractOne(lo, m), subtractOne(hi, m)...)
}

// IPBlockPatch is the ingress rule to add so that src reaches port/protocol on the pods the policy
// selects: a JSON patch appending one rule (kubectl patch --type json). hasRules says whether the
// policy already has an ingress list (else the patch creates it).
func IPBlockPatch(src netip.Prefix, port int32, proto corev1.Protocol, hasRules bool) string {
	rule := fmt.Sprintf(`{"from":[{"ipBlock":{"cidr":"%s"}}],"ports":[{"protocol":"%s","port":%d}]}`, src.Masked(), orTCP(proto), port)
	if !hasRules {
		return `[{"op":"add","path":"/spec/ingress","value":[` + rule + `]}]`
	}
	return `[{"op":"add","path":"/spec/ingress/-","value":` + rule + `}]`
}
