package sim

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	appsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	fakeappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1/fake"
	authenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1"
	fakeauthenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1/fake"
	authorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1"
	fakeauthorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1/fake"
	batchv1 "k8s.io/client-go/kubernetes/typed/batch/v1"
	fakebatchv1 "k8s.io/client-go/kubernetes/typed/batch/v1/fake"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	fakecorev1 "k8s.io/client-go/kubernetes/typed/core/v1/fake"
	discoveryv1 "k8s.io/client-go/kubernetes/typed/discovery/v1"
	fakediscoveryv1 "k8s.io/client-go/kubernetes/typed/discovery/v1/fake"
	networkingv1 "k8s.io/client-go/kubernetes/typed/networking/v1"
	fakenetworkingv1 "k8s.io/client-go/kubernetes/typed/networking/v1/fake"
	rbacv1 "k8s.io/client-go/kubernetes/typed/rbac/v1"
	fakerbacv1 "k8s.io/client-go/kubernetes/typed/rbac/v1/fake"
	clienttesting "k8s.io/client-go/testing"
)

// clientset is the demo world's Kubernetes client: client-go's typed fakes of the API groups
// gkedoctor uses, over one object tracker — what k8s.io/client-go/kubernetes/fake's
// NewSimpleClientset builds, without linking that package into the product binary. Its init registers
// every API group in a scheme of its own, which cost every start of gkedoctor (even `gkedoctor
// version`) about 10 ms and half a megabyte; this one uses client-go's scheme, which the real clients
// initialise anyway. A group not listed here panics (the nil Interface): add it when a check needs it.
type clientset struct {
	clienttesting.Fake
	kubernetes.Interface // nil: the groups gkedoctor does not use
	discovery            *fakediscovery.FakeDiscovery
	tracker              clienttesting.ObjectTracker
}

// newClientset is NewSimpleClientset's set-up: an object tracker answering every verb, and watches.
func newClientset() *clientset {
	o := clienttesting.NewObjectTracker(kscheme.Scheme, kscheme.Codecs.UniversalDecoder())
	cs := &clientset{tracker: o}
	cs.discovery = &fakediscovery.FakeDiscovery{Fake: &cs.Fake}
	cs.AddReactor("*", "*", clienttesting.ObjectReaction(o))
	cs.AddWatchReactor("*", func(action clienttesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := action.(clienttesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := o.Watch(action.GetResource(), action.GetNamespace(), opts)
		if err != nil {
			return false, nil, err
		}
		return true, w, nil
	})
	return cs
}

func (c *clientset) Tracker() clienttesting.ObjectTracker     { return c.tracker }
func (c *clientset) Discovery() discovery.DiscoveryInterfaces { return c.discovery }
func (c *clientset) CoreV1() corev1.CoreV1Interface           { return &fakecorev1.FakeCoreV1{Fake: &c.Fake} }
func (c *clientset) AppsV1() appsv1.AppsV1Interface           { return &fakeappsv1.FakeAppsV1{Fake: &c.Fake} }
func (c *clientset) DiscoveryV1() discoveryv1.DiscoveryV1Interface {
	return &fakediscoveryv1.FakeDiscoveryV1{Fake: &c.Fake}
}
func (c *clientset) RbacV1() rbacv1.RbacV1Interface { return &fakerbacv1.FakeRbacV1{Fake: &c.Fake} }
func (c *clientset) NetworkingV1() networkingv1.NetworkingV1Interface {
	return &fakenetworkingv1.FakeNetworkingV1{Fake: &c.Fake}
}
func (c *clientset) BatchV1() batchv1.BatchV1Interface {
	return &fakebatchv1.FakeBatchV1{Fake: &c.Fake}
}
func (c *clientset) AuthenticationV1() authenticationv1.AuthenticationV1Interface {
	return &fakeauthenticationv1.FakeAuthenticationV1{Fake: &c.Fake}
}
func (c *clientset) AuthorizationV1() authorizationv1.AuthorizationV1Interface {
	return &fakeauthorizationv1.FakeAuthorizationV1{Fake: &c.Fake}
}

// IsWatchListSemanticsUnSupported tells client-go's reflector not to use WatchList (as the fake does).
func (c *clientset) IsWatchListSemanticsUnSupported() bool { return true }
