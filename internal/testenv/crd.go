package testenv

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// KnativeCRDs are minimal CustomResourceDefinitions of the Knative APIs gkedoctor reads: Knative
// Serving's DomainMapping (v1beta1 and v1alpha1), Cloud Run for Anthos's DomainMapping
// (domains.cloudrun.com/v1alpha1) and Knative networking's Ingress
// (networking.internal.knative.dev/v1alpha1).
//
//go:embed testdata/crds/knative.yaml
var KnativeCRDs []byte

var gvrCRDs = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Dynamic returns a dynamic client for the admin user.
func (s *APIServer) Dynamic() (dynamic.Interface, error) {
	return dynamic.NewForConfig(s.RESTConfig())
}

// InstallCRDs creates the CustomResourceDefinitions of a multi-document YAML manifest (one that
// exists already is left as it is) and waits until each is Established and served by discovery.
// CRDs are cluster-wide: install them on a server of the test's own (Start), not the Shared one,
// unless every test of the package can live with them.
func (s *APIServer) InstallCRDs(ctx context.Context, manifest []byte) error {
	d, err := s.Dynamic()
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var names []string
	var gvs [][2]string // group/version, plural
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("testenv: decode CRD manifest: %w", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() != "CustomResourceDefinition" {
			return fmt.Errorf("testenv: InstallCRDs: %s %s is not a CustomResourceDefinition", u.GetKind(), u.GetName())
		}
		if _, err := d.Resource(gvrCRDs).Create(ctx, &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("testenv: create CRD %s: %w", u.GetName(), err)
		}
		names = append(names, u.GetName())
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		vs, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
		for _, v := range vs {
			if m, ok := v.(map[string]any); ok && m["served"] == true {
				gvs = append(gvs, [2]string{group + "/" + fmt.Sprint(m["name"]), plural})
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range names {
		for {
			u, err := d.Resource(gvrCRDs).Get(ctx, n, metav1.GetOptions{})
			if err == nil && established(u) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("testenv: CRD %s not Established after 30s (last error: %v)", n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	disc := s.clientset.Discovery()
	for _, gv := range gvs {
		for {
			l, err := disc.ServerResourcesForGroupVersionWithContext(ctx, gv[0])
			if err == nil && hasResource(l, gv[1]) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("testenv: %s not served at %s after 30s (last error: %v)", gv[1], gv[0], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func hasResource(l *metav1.APIResourceList, plural string) bool {
	if l == nil {
		return false
	}
	for _, r := range l.APIResources {
		if r.Name == plural {
			return true
		}
	}
	return false
}
