package testenv

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var notDNSLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// NewNamespace creates a namespace named after the test (plus a random
// suffix) with its default ServiceAccount, and deletes it when the test ends.
// No namespace controller runs, so a deleted namespace stays Terminating
// with its contents; the unique name keeps tests apart.
func (s *APIServer) NewNamespace(t testing.TB) string {
	t.Helper()
	prefix := strings.Trim(notDNSLabel.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "test"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := s.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testenv: create namespace for %s: %v", t.Name(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := s.clientset.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("testenv: delete namespace %s: %v", ns.Name, err)
		}
	})
	if err := s.createServiceAccount(ctx, ns.Name, "default"); err != nil {
		t.Fatalf("testenv: create ServiceAccount %s/default: %v", ns.Name, err)
	}
	return ns.Name
}

// ServiceAccountToken mints a bound token for ns/sa with the TokenRequest
// API (what the kubelet does for a pod's projected token, without the pod
// binding). nil audiences mean the server's API audiences.
func (s *APIServer) ServiceAccountToken(ctx context.Context, ns, sa string, audiences []string) (string, error) {
	tr, err := s.clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: slices.Clone(audiences)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request token for ServiceAccount %s/%s: %w", ns, sa, err)
	}
	return tr.Status.Token, nil
}

// ClientForToken returns a client, and its config, that authenticate with
// the bearer token only (the server's CA, no admin credentials). The client
// is nil only if the config is invalid, which Start has already ruled out.
func (s *APIServer) ClientForToken(token string) (kubernetes.Interface, *rest.Config) {
	cfg := s.RESTConfig()
	cfg.BearerToken = token
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, cfg
	}
	return cs, cfg
}
