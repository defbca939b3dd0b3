package fixes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A wait for the internal load balancer's IP that is cancelled (a signal) says it was cancelled,
// with the time really waited; it is not reported as "still has no IP after 10m0s".
func TestILBWaitCancelledIsReportedAsCancellation(t *testing.T) {
	orig := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: map[string]string{"app": "api"},
			Ports: []corev1.ServicePort{{Port: 80}}}}
	ilb := InternalLBService(InternalLB{Original: orig})
	k := fake.NewClientset(orig, ilb) // pure logic: the ILB stays pending
	p := NewInternalLBPlan(&Deps{Kube: k}, InternalLB{Original: orig, WaitTimeout: 10 * time.Minute, PollInterval: 10 * time.Millisecond})
	if p.Wait == nil {
		t.Fatal("the plan has no wait")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("cancelled by SIGINT")) })
	msg, err := p.Wait(ctx, func(string) {})
	if err == nil || err.Error() != "cancelled by SIGINT" {
		t.Fatalf("error %v, want the cancellation's cause", err)
	}
	if strings.Contains(msg, "10m0s") || !strings.Contains(msg, "was cancelled after 0s") {
		t.Fatalf("message %q", msg)
	}

	// Timed out for real: the message says the time waited.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 1100*time.Millisecond)
	defer cancel2()
	msg, _ = p.Wait(ctx2, func(string) {})
	if !strings.Contains(msg, "still has no IP after 1s") {
		t.Fatalf("message %q", msg)
	}
}
