package inventory

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// TestServicePagesDecodedInPlaceAgainstKubeAPIServer: the pages ServicePages decodes from its own
// buffer are the typed client's pages, object for object (every kind of Service, annotations, load
// balancer status, managed fields), over protobuf and over JSON.
func TestServicePagesDecodedInPlaceAgainstKubeAPIServer(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := srv.Clientset()
	local := corev1.ServiceExternalTrafficPolicyLocal
	class := "networking.gke.io/l4-regional-internal"
	for k := 0; k < 7; k++ {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", k), Namespace: ns, Labels: map[string]string{"app": "a"},
			Annotations: map[string]string{"note": "ünïcode ✓"}},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": fmt.Sprint(k % 3)},
				Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("web")},
					{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353)}}}}
		switch k {
		case 1:
			s.Spec.Type, s.Spec.ExternalTrafficPolicy, s.Spec.LoadBalancerSourceRanges = corev1.ServiceTypeLoadBalancer, local, []string{"10.8.0.0/28"}
			s.Annotations["networking.gke.io/load-balancer-type"] = "Internal"
		case 2:
			s.Spec.Type, s.Spec.LoadBalancerClass = corev1.ServiceTypeLoadBalancer, &class
		case 3:
			s.Spec.ClusterIP = corev1.ClusterIPNone
		case 4:
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}
		case 5:
			s.Spec.Type = corev1.ServiceTypeNodePort
		}
		created, err := admin.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if k == 1 {
			created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.132.0.6"}}
			if _, err := admin.CoreV1().Services(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, contentType := range []string{"application/vnd.kubernetes.protobuf", "application/json"} {
		t.Run(contentType, func(t *testing.T) {
			cfg := srv.RESTConfig()
			cfg.AcceptContentTypes, cfg.ContentType = contentType, contentType
			c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext}, true)
			if err != nil {
				t.Fatal(err)
			}
			opts := metav1.ListOptions{Limit: 3}
			var buf bytes.Buffer
			pages := 0
			for {
				want, err := c.Clientset.CoreV1().Services("").List(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				got, err := servicePage(ctx, c.Clientset, opts, &buf)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Items, want.Items) || got.Continue != want.Continue || got.ResourceVersion != want.ResourceVersion {
					t.Fatalf("page %d differs:\ngot  %+v\nwant %+v", pages, got, want)
				}
				pages++
				if want.Continue == "" {
					break
				}
				opts.Continue = want.Continue
			}
			if pages < 2 {
				t.Fatalf("%d page(s): the test meant to read several", pages)
			}
		})
	}
	// client-go's fake has no REST client: listed through the typed client.
	fk := fake.NewClientset(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y"}})
	var buf bytes.Buffer
	if l, err := servicePage(ctx, fk, metav1.ListOptions{}, &buf); err != nil || len(l.Items) != 1 {
		t.Fatalf("fake clientset: %v %v", l, err)
	}
}

// TestDecodeServiceListRefusesGarbage: a truncated or foreign body is an error naming what failed,
// never a panic or an empty list taken for the cluster's.
func TestDecodeServiceListRefusesGarbage(t *testing.T) {
	for name, body := range map[string][]byte{
		"truncated envelope": append(append([]byte(nil), protobufMagic...), 0x12, 0x40, 1, 2),
		"no object":          append([]byte(nil), protobufMagic...),
		"gzip payload":       append(append([]byte(nil), protobufMagic...), 0x12, 0x01, 0x0a, 0x1a, 0x04, 'g', 'z', 'i', 'p'),
		"bad items":          append(append([]byte(nil), protobufMagic...), 0x12, 0x03, 0x12, 0x05, 0x00),
		"html":               []byte("<html>gateway timeout</html>"),
		"a pod list":         []byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`),
	} {
		l, err := decodeServiceList(body)
		if err == nil || !strings.Contains(err.Error(), "decode the list of Services") {
			t.Errorf("%s: %v, %v", name, l, err)
		}
	}
}
