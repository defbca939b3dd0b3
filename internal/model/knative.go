package model

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// Knative and its ingress gateway (FAILURE-MODES §7b): which Knative APIs can carry DomainMappings
// and Ingresses, what their conditions say, and which Service is the gateway whose
// status.loadBalancer net-istio publishes as their address.

// KnativeAPI is one custom-resource API the gateway check reads.
type KnativeAPI struct {
	Group, Version, Resource, Kind string
	// Product names who serves it, for people: "Knative Serving", "Cloud Run for Anthos".
	Product string
}

// GVR is the API's group, version and resource.
func (a KnativeAPI) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: a.Group, Version: a.Version, Resource: a.Resource}
}

// GroupVersion is "group/version", as discovery names it.
func (a KnativeAPI) GroupVersion() string { return a.Group + "/" + a.Version }

// String is "resource.group/version", as kubectl spells a fully qualified resource.
func (a KnativeAPI) String() string { return a.Resource + "." + a.Group + "/" + a.Version }

// KnativeAPIs are the APIs in the order they are preferred: for one group and resource only the
// first version the server serves is read (a CRD serves the same objects at every version).
var KnativeAPIs = []KnativeAPI{
	{Group: "serving.knative.dev", Version: "v1beta1", Resource: "domainmappings", Kind: "DomainMapping", Product: "Knative Serving"},
	{Group: "serving.knative.dev", Version: "v1alpha1", Resource: "domainmappings", Kind: "DomainMapping", Product: "Knative Serving"},
	{Group: "domains.cloudrun.com", Version: "v1alpha1", Resource: "domainmappings", Kind: "DomainMapping", Product: "Cloud Run for Anthos"},
	{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "ingresses", Kind: "Ingress", Product: "Knative networking"},
}

// KnativeCondition is one entry of a Knative object's status.conditions.
type KnativeCondition struct {
	Type, Status, Reason, Message string
}

// String renders the condition as kubectl describe does, in one line.
func (c KnativeCondition) String() string {
	s := c.Type + " " + orDash(c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + fmt.Sprintf("%q", c.Message)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// KnativeObject is a DomainMapping or a Knative Ingress, with what the check reads of it.
type KnativeObject struct {
	API             KnativeAPI
	Namespace, Name string
	// Class is the ingress class annotation (networking.knative.dev/ingress.class), empty when unset.
	Class      string
	Conditions []KnativeCondition
	// Addresses are what its status publishes: a DomainMapping's resource records, an Ingress's
	// public load-balancer entries.
	Addresses []string
}

// Ref is KIND NAMESPACE/NAME.
func (o KnativeObject) Ref() string { return o.API.Kind + " " + o.Namespace + "/" + o.Name }

// Ingress class annotations (Knative has used both spellings).
const (
	AnnotationKnativeIngressClass       = "networking.knative.dev/ingress.class"
	AnnotationKnativeIngressClassLegacy = "networking.knative.dev/ingress-class"
)

// KnativeObjectFrom reads what the check needs from an object of api. Missing fields are empty,
// never an error: a Knative object without status is simply not reconciled yet.
func KnativeObjectFrom(api KnativeAPI, u *unstructured.Unstructured) KnativeObject {
	o := KnativeObject{API: api, Namespace: u.GetNamespace(), Name: u.GetName()}
	ann := u.GetAnnotations()
	o.Class = ann[AnnotationKnativeIngressClass]
	if o.Class == "" {
		o.Class = ann[AnnotationKnativeIngressClassLegacy]
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		o.Conditions = append(o.Conditions, KnativeCondition{Type: str(m["type"]), Status: str(m["status"]), Reason: str(m["reason"]), Message: str(m["message"])})
	}
	recs, _, _ := unstructured.NestedSlice(u.Object, "status", "resourceRecords")
	for _, r := range recs {
		if m, ok := r.(map[string]any); ok && str(m["rrdata"]) != "" {
			o.Addresses = append(o.Addresses, str(m["rrdata"]))
		}
	}
	for _, path := range [][]string{{"status", "publicLoadBalancer", "ingress"}, {"status", "loadBalancer", "ingress"}} {
		lbs, _, _ := unstructured.NestedSlice(u.Object, path...)
		for _, l := range lbs {
			m, ok := l.(map[string]any)
			if !ok {
				continue
			}
			for _, k := range []string{"ip", "domain", "domainInternal"} {
				if v := str(m[k]); v != "" {
					o.Addresses = append(o.Addresses, v)
					break
				}
			}
		}
	}
	return o
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Condition returns the condition of type t.
func (o KnativeObject) Condition(t string) (KnativeCondition, bool) {
	for _, c := range o.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return KnativeCondition{}, false
}

// Ready reports whether the object's Ready condition is True.
func (o KnativeObject) Ready() bool {
	c, ok := o.Condition("Ready")
	return ok && c.Status == "True"
}

// waitingMessages are what Knative and Cloud Run for Anthos say while the gateway has no address:
// net-istio's "Waiting for load balancer to be ready" (reason Uninitialized), and CRfA's
// domains.cloudrun.com "Waiting for Gateway IP" (reason GatewayNotReady, seed 002).
var waitingMessages = []string{"waiting for load balancer", "waiting for gateway ip"}

// lbConditions are the condition types that track the gateway's address.
var lbConditions = []string{"LoadBalancerReady", "GatewayReady"}

// WaitingForLB returns the condition that says the object waits for the gateway's load balancer:
// LoadBalancerReady (Ingress) or GatewayReady (CRfA DomainMapping) not True, or any condition not
// True whose message is one of the waiting messages (a DomainMapping's IngressReady and Ready carry
// its Ingress's). The most specific condition wins.
func (o KnativeObject) WaitingForLB() (KnativeCondition, bool) {
	for _, t := range lbConditions {
		if c, ok := o.Condition(t); ok && c.Status != "True" {
			return c, true
		}
	}
	for _, c := range o.Conditions {
		if c.Status == "True" {
			continue
		}
		m := strings.ToLower(c.Message)
		for _, w := range waitingMessages {
			if strings.Contains(m, w) {
				return c, true
			}
		}
	}
	return KnativeCondition{}, false
}

// NotReady returns why the object is not Ready: the first condition other than Ready that is not
// True (it says more), else Ready itself; ok is false when the object is Ready.
func (o KnativeObject) NotReady() (KnativeCondition, bool) {
	if o.Ready() {
		return KnativeCondition{}, false
	}
	for _, c := range o.Conditions {
		if c.Type != "Ready" && c.Status != "True" {
			return c, true
		}
	}
	if c, ok := o.Condition("Ready"); ok {
		return c, true
	}
	return KnativeCondition{Type: "Ready", Status: "Unknown", Message: "no status conditions yet (not reconciled)"}, true
}

// GatewayRef names a Service that may be Knative's ingress gateway, and why it is a candidate.
type GatewayRef struct {
	Namespace, Name string
	Why             string
}

// Ref is NAMESPACE/NAME.
func (g GatewayRef) Ref() string { return g.Namespace + "/" + g.Name }

// DefaultKnativeGateways are where the platforms put the gateway: Cloud Run for Anthos in
// gke-system/istio-ingress, Istio (OSS Knative with net-istio) in istio-system/istio-ingressgateway.
var DefaultKnativeGateways = []GatewayRef{
	{Namespace: "gke-system", Name: "istio-ingress", Why: "Cloud Run for Anthos's gateway"},
	{Namespace: "istio-system", Name: "istio-ingressgateway", Why: "Istio's default ingress gateway"},
}

// ClassGateways are the gateway Services of Knative ingress classes other than Istio's.
var ClassGateways = map[string]GatewayRef{
	"kourier": {Namespace: "kourier-system", Name: "kourier", Why: "Kourier's gateway (ingress class kourier)"},
	"contour": {Namespace: "contour-external", Name: "envoy", Why: "Contour's external gateway (ingress class contour)"},
}

// ConfigIstio is where net-istio is told which Services are its gateways.
const (
	ConfigIstioNamespace = "knative-serving"
	ConfigIstioName      = "config-istio"
)

// GatewaysFromConfigIstio reads the external gateways' Services from knative-serving/config-istio:
// the current key external-gateways (a YAML list whose entries name service: NAMESPACE/NAME) and the
// older gateway.[NAMESPACE.]NAME keys whose values are SERVICE.NAMESPACE.svc.cluster.local.
// Cluster-local gateways (local-gateway.*, local-gateways) are not load balancers by design and are
// left out. A value it cannot read is an error naming the key.
func GatewaysFromConfigIstio(data map[string]string) ([]GatewayRef, error) {
	var out []GatewayRef
	seen := map[string]bool{}
	add := func(g GatewayRef) {
		if !seen[g.Ref()] {
			seen[g.Ref()] = true
			out = append(out, g)
		}
	}
	if v, ok := data["external-gateways"]; ok && strings.TrimSpace(v) != "" {
		var gws []struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			Service   string `json:"service"`
		}
		if err := yaml.Unmarshal([]byte(v), &gws); err != nil {
			return nil, fmt.Errorf("config-istio key external-gateways: %v", err)
		}
		for _, g := range gws {
			ns, name, ok := strings.Cut(g.Service, "/")
			if !ok || ns == "" || name == "" {
				return nil, fmt.Errorf("config-istio key external-gateways: gateway %q has service %q, not NAMESPACE/NAME", g.Name, g.Service)
			}
			add(GatewayRef{Namespace: ns, Name: name, Why: "named by " + ConfigIstioNamespace + "/" + ConfigIstioName + " (external-gateways, " + g.Name + ")"})
		}
	}
	var keys []string
	for k := range data {
		if strings.HasPrefix(k, "gateway.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		host := strings.TrimSuffix(strings.TrimSpace(data[k]), ".")
		parts := strings.Split(host, ".")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("config-istio key %s: %q is not SERVICE.NAMESPACE.svc.cluster.local", k, data[k])
		}
		add(GatewayRef{Namespace: parts[1], Name: parts[0], Why: "named by " + ConfigIstioNamespace + "/" + ConfigIstioName + " (" + k + ")"})
	}
	return out, nil
}

// GatewayAddress is the address a load balancer gave the gateway Service (IP, else hostname), or "".
func GatewayAddress(s *corev1.Service) string {
	for _, in := range s.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
		if in.Hostname != "" {
			return in.Hostname
		}
	}
	return ""
}
