package model

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func knU(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// The three shapes the check meets: seed 002's Cloud Run for Anthos DomainMapping, Knative's Ingress,
// Knative Serving's DomainMapping (which carries its Ingress's message on IngressReady).
func TestKnativeObjectWaitingForLB(t *testing.T) {
	cases := []struct {
		name, doc       string
		api             KnativeAPI
		waits           bool
		condType, class string
		ready           bool
		notReady        string
		addrs           string
	}{
		{name: "crfa_seed_002", api: KnativeAPIs[2], waits: true, condType: "GatewayReady", notReady: "GatewayReady", doc: `
metadata: {name: my-service.example.com, namespace: default}
status:
  conditions:
  - {type: CertificateProvisioned, status: "True", reason: NotNeeded, message: Certificate is not needed as TLS is not enabled.}
  - {type: GatewayReady, status: Unknown, reason: GatewayNotReady, message: Waiting for Gateway IP}
  - {type: Ready, status: Unknown, reason: GatewayNotReady, message: Waiting for Gateway IP}
  - {type: RouteReady, status: "True"}`},
		{name: "crfa_ready", api: KnativeAPIs[2], ready: true, addrs: "35.187.199.153", doc: `
metadata: {name: my-service.example.com, namespace: default}
status:
  conditions: [{type: GatewayReady, status: "True"}, {type: Ready, status: "True"}]
  resourceRecords: [{name: my-service.default, rrdata: 35.187.199.153, type: A}]`},
		{name: "knative_ingress", api: KnativeAPIs[3], waits: true, condType: "LoadBalancerReady", class: "istio.ingress.networking.knative.dev", notReady: "LoadBalancerReady", doc: `
metadata: {name: my-service, namespace: default, annotations: {networking.knative.dev/ingress.class: istio.ingress.networking.knative.dev}}
status:
  conditions:
  - {type: LoadBalancerReady, status: Unknown, reason: Uninitialized, message: Waiting for load balancer to be ready}
  - {type: NetworkConfigured, status: "True"}
  - {type: Ready, status: Unknown, reason: Uninitialized, message: Waiting for load balancer to be ready}`},
		{name: "knative_ingress_ready", api: KnativeAPIs[3], ready: true, class: "kourier.ingress.networking.knative.dev", addrs: "kourier.kourier-system.svc.cluster.local", doc: `
metadata: {name: my-service, namespace: default, annotations: {networking.knative.dev/ingress-class: kourier.ingress.networking.knative.dev}}
status:
  conditions: [{type: LoadBalancerReady, status: "True"}, {type: Ready, status: "True"}]
  publicLoadBalancer: {ingress: [{domainInternal: kourier.kourier-system.svc.cluster.local}]}`},
		{name: "serving_domainmapping", api: KnativeAPIs[0], waits: true, condType: "IngressReady", notReady: "IngressReady", doc: `
metadata: {name: api.example.com, namespace: default}
status:
  conditions:
  - {type: DomainClaimed, status: "True"}
  - {type: IngressReady, status: Unknown, reason: Uninitialized, message: Waiting for load balancer to be ready}
  - {type: Ready, status: Unknown, reason: Uninitialized, message: Waiting for load balancer to be ready}`},
		{name: "claimed_elsewhere", api: KnativeAPIs[0], notReady: "DomainClaimed", doc: `
metadata: {name: api.example.com, namespace: default}
status:
  conditions:
  - {type: DomainClaimed, status: "False", reason: NotClaimed, message: The domain is already mapped}
  - {type: Ready, status: "False", reason: NotClaimed}`},
		{name: "no_status_yet", api: KnativeAPIs[0], notReady: "Ready", doc: `
metadata: {name: new.example.com, namespace: default}
spec: {ref: {name: x}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := KnativeObjectFrom(c.api, knU(t, c.doc))
			cond, waits := o.WaitingForLB()
			if waits != c.waits || (waits && cond.Type != c.condType) {
				t.Errorf("WaitingForLB = %v %+v", waits, cond)
			}
			if o.Class != c.class {
				t.Errorf("class %q", o.Class)
			}
			if o.Ready() != c.ready {
				t.Errorf("Ready %v", o.Ready())
			}
			nr, ok := o.NotReady()
			if ok != (c.notReady != "") || nr.Type != c.notReady {
				t.Errorf("NotReady = %v %+v, want %q", ok, nr, c.notReady)
			}
			if strings.Join(o.Addresses, ",") != c.addrs {
				t.Errorf("addresses %v", o.Addresses)
			}
		})
	}
}

func TestGatewaysFromConfigIstio(t *testing.T) {
	cases := []struct {
		name string
		data map[string]string
		want string
		err  string
	}{
		{name: "empty", data: map[string]string{"_example": "…"}, want: ""},
		{name: "external_gateways", data: map[string]string{"external-gateways": "- name: knative-ingress-gateway\n  namespace: knative-serving\n  service: istio-system/istio-ingressgateway\n",
			"local-gateways": "- name: knative-local-gateway\n  namespace: knative-serving\n  service: istio-system/knative-local-gateway\n"}, want: "istio-system/istio-ingressgateway"},
		{name: "legacy_keys", data: map[string]string{"gateway.knative-serving.knative-ingress-gateway": "istio-ingressgateway.istio-system.svc.cluster.local",
			"gateway.gke-system-gateway": "istio-ingress.gke-system.svc.cluster.local.", "local-gateway.knative-serving.cluster-local-gateway": "cluster-local-gateway.istio-system.svc.cluster.local"},
			want: "gke-system/istio-ingress istio-system/istio-ingressgateway"},
		{name: "both_deduplicated", data: map[string]string{"external-gateways": "- {name: g, namespace: knative-serving, service: istio-system/istio-ingressgateway}",
			"gateway.knative-serving.knative-ingress-gateway": "istio-ingressgateway.istio-system.svc.cluster.local"}, want: "istio-system/istio-ingressgateway"},
		{name: "bad_yaml", data: map[string]string{"external-gateways": "- name: [unclosed"}, err: "external-gateways"},
		{name: "bad_service", data: map[string]string{"external-gateways": "- {name: g, service: istio-ingressgateway}"}, err: "not NAMESPACE/NAME"},
		{name: "bad_host", data: map[string]string{"gateway.x": "istio-ingressgateway"}, err: "gateway.x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := GatewaysFromConfigIstio(c.data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one naming %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, g := range got {
				refs = append(refs, g.Ref())
				if !strings.Contains(g.Why, "config-istio") {
					t.Errorf("why %q", g.Why)
				}
			}
			if strings.Join(refs, " ") != c.want {
				t.Fatalf("got %v, want %s", refs, c.want)
			}
		})
	}
}

// Whatever a ConfigMap or a custom resource holds, reading it never panics.
func FuzzKnativeInputs(f *testing.F) {
	f.Add("external-gateways", "- {name: g, namespace: n, service: a/b}", `{"status":{"conditions":[{"type":"Ready","status":"Unknown","message":"Waiting for Gateway IP"}]}}`)
	f.Add("gateway.x", "a.b.svc.cluster.local", `{"status":{"conditions":"nope","resourceRecords":[1,{"rrdata":2}]}}`)
	f.Fuzz(func(t *testing.T, key, value, obj string) {
		_, _ = GatewaysFromConfigIstio(map[string]string{key: value})
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(obj), &u.Object); err != nil || u.Object == nil {
			return
		}
		o := KnativeObjectFrom(KnativeAPIs[0], u)
		o.WaitingForLB()
		o.NotReady()
		_ = o.Ref()
	})
}
