package model

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The annotation is matched exactly as GKE's controller accepts it: "INTERNAL" or a stray space gets
// an external load balancer, so it must not be judged internal.
func TestIsInternalLBMatchesTheAnnotationAsGKEDoes(t *testing.T) {
	lb := func(ann map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	}
	cases := []struct {
		ann  map[string]string
		want bool
	}{
		{map[string]string{AnnotationLBType: "Internal"}, true},
		{map[string]string{AnnotationLBType: "internal"}, true},
		{map[string]string{AnnotationLBTypeLegacy: "Internal"}, true},
		{map[string]string{AnnotationLBType: "INTERNAL"}, false},
		{map[string]string{AnnotationLBType: " Internal"}, false},
		{map[string]string{AnnotationLBType: "External", AnnotationLBTypeLegacy: "Internal"}, false}, // the first one present decides
		{nil, false},
	}
	for _, c := range cases {
		if got := IsInternalLB(lb(c.ann)); got != c.want {
			t.Errorf("%v: got %v, want %v", c.ann, got, c.want)
		}
	}
	if IsInternalLB(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationLBType: "Internal"}}}) {
		t.Error("a ClusterIP Service with the annotation is not a load balancer")
	}
}
