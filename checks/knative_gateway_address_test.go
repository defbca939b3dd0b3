package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// The decision list over facts, without a server: one case per cause and per honest skip. (The
// facts' gathering and the fixes are tested against the real kube-apiserver and the demo world.)

var (
	knDM  = model.KnativeAPIs[2] // domains.cloudrun.com DomainMapping
	knIng = model.KnativeAPIs[3]
)

func knObj(api model.KnativeAPI, name string, conds ...model.KnativeCondition) model.KnativeObject {
	return model.KnativeObject{API: api, Namespace: "default", Name: name, Conditions: conds}
}

var (
	knWaitingDM  = knObj(knDM, "my-service.example.com", model.KnativeCondition{Type: "GatewayReady", Status: "Unknown", Reason: "GatewayNotReady", Message: "Waiting for Gateway IP"}, model.KnativeCondition{Type: "Ready", Status: "Unknown", Reason: "GatewayNotReady", Message: "Waiting for Gateway IP"})
	knWaitingIng = knObj(knIng, "my-service", model.KnativeCondition{Type: "LoadBalancerReady", Status: "Unknown", Reason: "Uninitialized", Message: "Waiting for load balancer to be ready"}, model.KnativeCondition{Type: "Ready", Status: "Unknown", Reason: "Uninitialized", Message: "Waiting for load balancer to be ready"})
	knReadyDM    = knObj(knDM, "ok.example.com", model.KnativeCondition{Type: "GatewayReady", Status: "True"}, model.KnativeCondition{Type: "Ready", Status: "True"})
	knClaimedDM  = knObj(model.KnativeAPIs[0], "taken.example.com", model.KnativeCondition{Type: "DomainClaimed", Status: "False", Reason: "NotClaimed", Message: "the domain is claimed by another DomainMapping"}, model.KnativeCondition{Type: "Ready", Status: "False", Reason: "NotClaimed"})
)

func knSvc(typ corev1.ServiceType, addr string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "gke-system", Name: "istio-ingress", UID: "u-1", ResourceVersion: "7"},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "34.118.236.174", Ports: []corev1.ServicePort{{Name: "http2", Port: 80, NodePort: 32760, Protocol: corev1.ProtocolTCP}}}}
	if addr != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: addr}}
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

var errForbiddenList = kube.Map(apierrors.NewForbidden(schema.GroupResource{Group: "domains.cloudrun.com", Resource: "domainmappings"}, "",
	errors.New(`User "viewer" cannot list resource "domainmappings" in API group "domains.cloudrun.com" at the cluster scope`)), "list domainmappings.domains.cloudrun.com", "all namespaces")

var errForbiddenGet = kube.Map(apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "istio-ingress",
	errors.New(`User "viewer" cannot get resource "services" in API group "" in the namespace "gke-system"`)), "get Service", "gke-system/istio-ingress")

func TestKnativeGatewayAddressDecisions(t *testing.T) {
	gw := model.DefaultKnativeGateways[0]
	oss := model.DefaultKnativeGateways[1]
	present := func(s *corev1.Service) []*knGateway {
		return []*knGateway{{Ref: gw, Svc: s}, {Ref: oss, Absent: true}}
	}
	absent := []*knGateway{{Ref: gw, Absent: true}, {Ref: oss, Absent: true}}
	failedEvent := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "gke-system"}, Type: "Warning", Reason: "SyncLoadBalancerFailed",
		Message: "Error syncing load balancer: failed to ensure load balancer: quota exceeded", InvolvedObject: corev1.ObjectReference{Kind: "Service", Namespace: "gke-system", Name: "istio-ingress"}}
	cases := []struct {
		name      string
		objs      []model.KnativeObject
		listErrs  []error
		gws       []*knGateway
		events    []corev1.Event
		internal  bool
		want      Status
		cause     string
		inSummary []string
		fixes     []string // plan ids, in order
	}{
		{name: "nodeport_waiting", objs: []model.KnativeObject{knWaitingDM, knWaitingIng}, gws: present(knSvc(corev1.ServiceTypeNodePort, "")),
			want: Fail, cause: "gateway-not-loadbalancer", inSummary: []string{"gke-system/istio-ingress is type NodePort", "Waiting for Gateway IP", "Waiting for load balancer to be ready"},
			fixes: []string{"gateway-loadbalancer/gke-system/istio-ingress", "gateway-internal-loadbalancer/gke-system/istio-ingress"}},
		{name: "nodeport_waiting_internal_flag", objs: []model.KnativeObject{knWaitingDM}, gws: present(knSvc(corev1.ServiceTypeNodePort, "")), internal: true,
			want: Fail, cause: "gateway-not-loadbalancer", fixes: []string{"gateway-internal-loadbalancer/gke-system/istio-ingress", "gateway-loadbalancer/gke-system/istio-ingress"}},
		{name: "clusterip_no_objects_yet", gws: present(knSvc(corev1.ServiceTypeClusterIP, "")),
			want: Warn, cause: "gateway-not-loadbalancer", inSummary: []string{"type ClusterIP", "the first DomainMapping or Ingress will wait"}},
		{name: "nodeport_but_everything_ready", objs: []model.KnativeObject{knReadyDM}, gws: present(knSvc(corev1.ServiceTypeNodePort, "")),
			want: Pass, inSummary: []string{"without an address", "1 DomainMapping is Ready"}},
		{name: "addon_manager_reconciles_it", objs: []model.KnativeObject{knWaitingDM},
			gws:  present(knSvc(corev1.ServiceTypeNodePort, "", func(s *corev1.Service) { s.Labels = map[string]string{"addonmanager.kubernetes.io/mode": "Reconcile"} })),
			want: Fail, cause: "gateway-not-loadbalancer", fixes: []string{"gateway-loadbalancer-advice/gke-system/istio-ingress"}},
		{name: "headless_needs_recreate", objs: []model.KnativeObject{knWaitingDM},
			gws:  present(knSvc(corev1.ServiceTypeClusterIP, "", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })),
			want: Fail, cause: "gateway-not-loadbalancer", fixes: []string{"gateway-loadbalancer-advice/gke-system/istio-ingress"}},
		{name: "already_annotated_internal", objs: []model.KnativeObject{knWaitingDM},
			gws: present(knSvc(corev1.ServiceTypeNodePort, "", func(s *corev1.Service) {
				s.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
			})),
			want: Fail, cause: "gateway-not-loadbalancer", fixes: []string{"gateway-internal-loadbalancer/gke-system/istio-ingress"}},
		{name: "no_gateway_service", objs: []model.KnativeObject{knWaitingIng}, gws: absent,
			want: Fail, cause: "gateway-service-missing", inSummary: []string{"gke-system/istio-ingress, istio-system/istio-ingressgateway are absent"}, fixes: []string{"find-knative-gateway"}},
		{name: "no_gateway_nothing_to_look_at", gws: absent, want: Skip, cause: "not-applicable"},
		{name: "no_gateway_but_ready", objs: []model.KnativeObject{knReadyDM}, gws: absent, want: Pass, inSummary: []string{"Knative publishes an address"}},
		{name: "lb_provisioning", objs: []model.KnativeObject{knWaitingDM}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "")),
			want: Warn, cause: "gateway-lb-pending", inSummary: []string{"still provisioning"}},
		{name: "lb_failed", objs: []model.KnativeObject{knWaitingDM}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "")), events: []corev1.Event{failedEvent},
			want: Fail, cause: "gateway-lb-pending", inSummary: []string{"its events report a failure"}},
		{name: "waiting_despite_address", objs: []model.KnativeObject{knWaitingDM}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "34.78.0.9")),
			want: Warn, cause: "waiting-despite-address", inSummary: []string{"34.78.0.9", "Waiting for Gateway IP"}},
		{name: "domain_claimed", objs: []model.KnativeObject{knReadyDM, knClaimedDM}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "34.78.0.9")),
			want: Warn, cause: "mapping-not-ready", inSummary: []string{"DomainClaimed False (NotClaimed)"}},
		{name: "ready_mapping_but_ingress_waits", objs: []model.KnativeObject{knReadyDM, knWaitingIng}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "34.78.0.9")),
			want: Warn, cause: "waiting-despite-address"},
		{name: "pass", objs: []model.KnativeObject{knReadyDM}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "34.78.0.9")),
			want: Pass, inSummary: []string{"gke-system/istio-ingress has the address 34.78.0.9"}},
		{name: "cannot_list_mappings", listErrs: []error{errForbiddenList}, gws: present(knSvc(corev1.ServiceTypeNodePort, "")),
			want: Skip, cause: "missing-permission", inSummary: []string{"RBAC list domainmappings.domains.cloudrun.com", "is type NodePort"}},
		{name: "cannot_read_gateway", objs: []model.KnativeObject{knWaitingDM}, gws: []*knGateway{{Ref: gw, Err: errForbiddenGet}, {Ref: oss, Absent: true}},
			want: Skip, cause: "missing-permission", inSummary: []string{"RBAC get services", "meanwhile 1 Knative object(s) wait"}},
		{name: "cannot_list_but_ready_gateway", objs: []model.KnativeObject{knReadyDM}, listErrs: []error{errForbiddenList}, gws: present(knSvc(corev1.ServiceTypeLoadBalancer, "34.78.0.9")),
			want: Skip, cause: "missing-permission"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var objs []corev1.Event
			objs = append(objs, c.events...)
			cs := fake.NewSimpleClientset()
			for i := range objs {
				if _, err := cs.CoreV1().Events("gke-system").Create(context.Background(), &objs[i], metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			env := &Env{Inv: inventory.New(inventory.Scope{}, cs, nil, nil, nil), Targets: Targets{InternalGateway: c.internal}, Now: time.Now}
			f := &knFacts{APIs: []model.KnativeAPI{knDM, knIng}, ListErrs: c.listErrs, Gateways: c.gws}
			for _, o := range c.objs {
				f.add(o)
			}
			rec := NewRecorder("knative-gateway-address")
			r := knVerdict(context.Background(), env, rec, f)
			r.ID = "knative-gateway-address"
			if r.Status != c.want || r.Cause != c.cause {
				t.Fatalf("want %s [%s], got %s", c.want, c.cause, resultText(r))
			}
			if !KnownCause(r.ID, r.Cause) {
				t.Errorf("cause %q is not in the catalogue", r.Cause)
			}
			for _, s := range c.inSummary {
				if !strings.Contains(r.Summary, s) {
					t.Errorf("summary lacks %q: %s", s, r.Summary)
				}
			}
			if c.fixes != nil {
				var ids []string
				for _, p := range r.Fixes {
					ids = append(ids, p.ID)
				}
				if strings.Join(ids, " ") != strings.Join(c.fixes, " ") {
					t.Errorf("fixes %v, want %v", ids, c.fixes)
				}
			}
			for i, p := range r.Fixes {
				if len(p.Commands) == 0 {
					t.Errorf("fix %s has no equivalent command", p.ID)
				}
				if !p.Advice && p.Alternative != (i > 0) {
					t.Errorf("fix %s: only the first is recommended (alternative=%v)", p.ID, p.Alternative)
				}
			}
			if c.name == "headless_needs_recreate" && (!r.Fixes[0].Advice || !r.Fixes[0].Destructive || !strings.Contains(strings.Join(r.Fixes[0].Commands, "\n"), "kubectl delete service istio-ingress")) {
				t.Errorf("re-create advice: %+v", r.Fixes[0])
			}
			if c.name == "addon_manager_reconciles_it" && (!r.Fixes[0].Advice || !strings.Contains(r.Fixes[0].Description, "addon manager")) {
				t.Errorf("addon-manager advice: %+v", r.Fixes[0])
			}
		})
	}
}

// The APIs step: none served is "Knative is not installed"; a discovery error is a skip naming it.
func TestKnativeNotInstalled(t *testing.T) {
	env := &Env{Inv: inventory.New(inventory.Scope{}, fake.NewSimpleClientset(), nil, nil, nil), Now: time.Now}
	rec := NewRecorder("knative-gateway-address")
	r := runKnativeGatewayAddress(context.Background(), env, rec)
	if r.Status != Skip || r.Cause != "knative-not-installed" || !strings.Contains(r.Summary, "Knative is not installed") {
		t.Fatalf("%+v", r)
	}
	// No cluster at all: the reason is the missing kubeconfig, not "not installed".
	env = &Env{Inv: inventory.New(inventory.Scope{}, nil, nil, nil, nil), Now: time.Now}
	r = runKnativeGatewayAddress(context.Background(), env, NewRecorder("knative-gateway-address"))
	if r.Status != Skip || r.Cause != "not-configured" {
		t.Fatalf("no cluster: %+v", r)
	}
}
