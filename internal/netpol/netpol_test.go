package netpol

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pol(name string, sel map[string]string, types []networkingv1.PolicyType, rules ...networkingv1.NetworkPolicyIngressRule) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types, Ingress: rules}}
}

func ipFrom(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func tcp(p intstr.IntOrString) networkingv1.NetworkPolicyPort {
	pr := corev1.ProtocolTCP
	return networkingv1.NetworkPolicyPort{Protocol: &pr, Port: &p}
}

func rangePort(lo, hi int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(lo)
	return networkingv1.NetworkPolicyPort{Port: &p, EndPort: &hi}
}

var (
	ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressOnly  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	connector   = netip.MustParsePrefix("192.168.99.0/28")
	agentPod    = Pod{Namespace: "default", Labels: map[string]string{"app": "development-agent", "tier": "api"},
		Ports: map[string]NamedPort{"http": {Port: 8080, Protocol: corev1.ProtocolTCP}}}
)

func TestEvaluate(t *testing.T) {
	udp := corev1.ProtocolUDP
	cases := []struct {
		name        string
		policies    []networkingv1.NetworkPolicy
		pkt         Packet
		isolated    bool
		admitted    bool
		selecting   []string
		by          []string
		notAdmitted []string
		unresolved  []string
	}{
		{name: "no policy: not isolated, admitted", pkt: Packet{Source: connector, Port: 8080}, admitted: true},
		{name: "policy of another namespace is ignored",
			policies: []networkingv1.NetworkPolicy{func() networkingv1.NetworkPolicy {
				p := pol("deny-all", nil, ingressOnly)
				p.Namespace = "other"
				return p
			}()},
			pkt: Packet{Source: connector, Port: 8080}, admitted: true},
		{name: "empty podSelector with no rules denies everything",
			policies: []networkingv1.NetworkPolicy{pol("default-deny", nil, ingressOnly)},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/default-deny"}, notAdmitted: []string{"192.168.99.0/28"}},
		{name: "egress-only policy does not isolate ingress",
			policies: []networkingv1.NetworkPolicy{pol("egress", nil, egressOnly)},
			pkt:      Packet{Source: connector, Port: 8080}, admitted: true},
		{name: "no policyTypes means Ingress",
			policies: []networkingv1.NetworkPolicy{pol("implicit", map[string]string{"app": "development-agent"}, nil)},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/implicit"}, notAdmitted: []string{"192.168.99.0/28"}},
		{name: "policy selecting other pods does not isolate",
			policies: []networkingv1.NetworkPolicy{pol("other-app", map[string]string{"app": "environment-manager"}, ingressOnly)},
			pkt:      Packet{Source: connector, Port: 8080}, admitted: true},
		{name: "rule with no from admits every source",
			policies: []networkingv1.NetworkPolicy{pol("open", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, admitted: true, selecting: []string{"default/open"}, by: []string{"default/open"}},
		{name: "pod selector peers never admit an outside address",
			policies: []networkingv1.NetworkPolicy{pol("same-ns", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}, {NamespaceSelector: &metav1.LabelSelector{}}}})},
			pkt: Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/same-ns"}, notAdmitted: []string{"192.168.99.0/28"}},
		{name: "ipBlock covering the range",
			policies: []networkingv1.NetworkPolicy{pol("vpc", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{ipFrom("192.168.0.0/16")}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, admitted: true, selecting: []string{"default/vpc"}, by: []string{"default/vpc"}},
		{name: "ipBlock except carves the connector out",
			policies: []networkingv1.NetworkPolicy{pol("vpc", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{ipFrom("192.168.0.0/16", "192.168.99.8/29")}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/vpc"}, by: []string{"default/vpc"}, notAdmitted: []string{"192.168.99.8/29"}},
		{name: "ipBlock covering half the range",
			policies: []networkingv1.NetworkPolicy{pol("half", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{ipFrom("192.168.99.0/29")}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/half"}, by: []string{"default/half"}, notAdmitted: []string{"192.168.99.8/29"}},
		{name: "numeric port matches the pod port",
			policies: []networkingv1.NetworkPolicy{pol("p", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromInt32(8080))}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, admitted: true, selecting: []string{"default/p"}, by: []string{"default/p"}},
		{name: "numeric port of the Service, not the pod, admits nothing",
			policies: []networkingv1.NetworkPolicy{pol("p", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromInt32(80))}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/p"}, notAdmitted: []string{"192.168.99.0/28"}},
		{name: "named port resolved on the pod",
			policies: []networkingv1.NetworkPolicy{pol("named", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromString("http"))}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, admitted: true, selecting: []string{"default/named"}, by: []string{"default/named"}},
		{name: "named port the pod lacks admits nothing",
			policies: []networkingv1.NetworkPolicy{pol("named", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromString("grpc"))}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/named"}, notAdmitted: []string{"192.168.99.0/28"}, unresolved: []string{"grpc"}},
		{name: "endPort range",
			policies: []networkingv1.NetworkPolicy{pol("range", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{rangePort(8000, 8100)}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, admitted: true, selecting: []string{"default/range"}, by: []string{"default/range"}},
		{name: "endPort range below the port",
			policies: []networkingv1.NetworkPolicy{pol("range", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{rangePort(7000, 8079)}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/range"}, notAdmitted: []string{"192.168.99.0/28"}},
		{name: "UDP rule does not admit TCP",
			policies: []networkingv1.NetworkPolicy{pol("udp", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp}}})},
			pkt:      Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/udp"}, notAdmitted: []string{"192.168.99.0/28"}},
		{name: "multiple policies are a union",
			policies: []networkingv1.NetworkPolicy{
				pol("deny-all", nil, ingressOnly),
				pol("low-half", map[string]string{"app": "development-agent"}, ingressOnly, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{ipFrom("192.168.99.0/29")}}),
				pol("high-half", map[string]string{"tier": "api"}, ingressOnly, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{ipFrom("192.168.99.8/29")}, Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromString("http"))}}),
			},
			pkt: Packet{Source: connector, Port: 8080}, isolated: true, admitted: true,
			selecting: []string{"default/deny-all", "default/high-half", "default/low-half"}, by: []string{"default/high-half", "default/low-half"}},
		{name: "matchExpressions selector",
			policies: []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "expr"},
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"api", "web"}}}},
					PolicyTypes: ingressOnly}}},
			pkt: Packet{Source: connector, Port: 8080}, isolated: true, selecting: []string{"default/expr"}, notAdmitted: []string{"192.168.99.0/28"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Evaluate(tc.policies, agentPod, tc.pkt)
			if err != nil {
				t.Fatal(err)
			}
			var na []string
			for _, p := range v.NotAdmitted {
				na = append(na, p.String())
			}
			if v.Isolated != tc.isolated || v.Admitted != tc.admitted || !eq(v.Selecting, tc.selecting) || !eq(v.AdmittedBy, tc.by) ||
				!eq(na, tc.notAdmitted) || !eq(v.Unresolved, tc.unresolved) {
				t.Fatalf("got %+v (not admitted %v)", v, na)
			}
		})
	}
}

func eq(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestEvaluateBadInput(t *testing.T) {
	bad := pol("bad", nil, ingressOnly, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{ipFrom("not-a-cidr")}})
	if _, err := Evaluate([]networkingv1.NetworkPolicy{bad}, agentPod, Packet{Source: connector, Port: 8080}); err == nil || !strings.Contains(err.Error(), "default/bad") {
		t.Fatalf("a bad cidr must be an error naming the policy, got %v", err)
	}
	sel := pol("badsel", nil, ingressOnly)
	sel.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}
	if _, err := Evaluate([]networkingv1.NetworkPolicy{sel}, agentPod, Packet{Source: connector, Port: 8080}); err == nil {
		t.Fatal("a bad selector must be an error")
	}
}

// The patch adds exactly one rule, valid JSON either way.
func TestIPBlockPatch(t *testing.T) {
	for _, has := range []bool{true, false} {
		var ops []map[string]any
		s := IPBlockPatch(connector, 8080, "", has)
		if err := json.Unmarshal([]byte(s), &ops); err != nil || len(ops) != 1 {
			t.Fatalf("%s: %v", s, err)
		}
		if !strings.Contains(s, `"cidr":"192.168.99.0/28"`) || !strings.Contains(s, `"port":8080`) || !strings.Contains(s, `"protocol":"TCP"`) {
			t.Fatal(s)
		}
	}
}
