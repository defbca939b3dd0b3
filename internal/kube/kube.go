// Package kube builds the Kubernetes client from kubectl's own flags (k8s.io/cli-runtime), installs the
// read-only guard below it, and maps API errors once to apierr kinds.
package kube

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// UsageError is a problem with what the user explicitly asked for (a named kubeconfig that cannot be
// read, an unknown context). The command exits 2 with its message.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Client is the Kubernetes side of a run.
type Client struct {
	Config    *rest.Config
	Clientset kubernetes.Interface
	Context   string // kubeconfig context used ("" in-cluster)
	Namespace string
	InCluster bool
}

// Resolved is what the kubeconfig says about the target, even when no client can be built.
type Resolved struct {
	Context   string
	Namespace string
	// KubeconfigNamespace is the namespace the kubeconfig context itself names ("" when it names none;
	// Namespace is then "default").
	KubeconfigNamespace string
}

// ResolveContext reads the kubeconfig named by the flags and returns the context and namespace that
// will be used. Explicit but broken input is a *UsageError; an absent kubeconfig is an apierr
// NotConfigured error (the dependent checks skip).
func ResolveContext(f *genericclioptions.ConfigFlags) (Resolved, error) {
	explicit := f.KubeConfig != nil && *f.KubeConfig != ""
	if err := checkKubeFiles(f); err != nil {
		return Resolved{}, err
	}
	loader := f.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		if explicit {
			return Resolved{}, &UsageError{Msg: fmt.Sprintf("cannot load kubeconfig %s: %v", *f.KubeConfig, err)}
		}
		return Resolved{}, &UsageError{Msg: fmt.Sprintf("cannot load kubeconfig: %v (fix the file or point --kubeconfig at a good one)", err)}
	}
	ctxName := raw.CurrentContext
	if f.Context != nil && *f.Context != "" {
		ctxName = *f.Context
		if _, ok := raw.Contexts[ctxName]; !ok {
			var names []string
			for n := range raw.Contexts {
				names = append(names, n)
			}
			hint := "kubectl config get-contexts lists them"
			if len(names) == 0 {
				hint = "the kubeconfig has no contexts"
			}
			return Resolved{}, &UsageError{Msg: fmt.Sprintf("context %q not found in kubeconfig (%s)", ctxName, hint)}
		}
	}
	ns, _, nsErr := loader.Namespace()
	if nsErr != nil || ns == "" {
		ns = "default"
	}
	if len(raw.Contexts) == 0 && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return Resolved{Namespace: ns}, &apierr.Error{Kind: apierr.NotConfigured, Op: "load kubeconfig",
			Remedy: "gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig",
			Err:    errors.New("no kubeconfig found")}
	}
	if ctxName == "" && len(raw.Contexts) > 0 && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return Resolved{Namespace: ns}, &apierr.Error{Kind: apierr.NotConfigured, Op: "load kubeconfig",
			Remedy: "kubectl config use-context NAME, or pass --context NAME",
			Err:    fmt.Errorf("the kubeconfig has %d contexts and none is current", len(raw.Contexts))}
	}
	var ctxNS string
	if c, ok := raw.Contexts[ctxName]; ok && c != nil {
		ctxNS = c.Namespace
	}
	return Resolved{Context: ctxName, Namespace: ns, KubeconfigNamespace: ctxNS}, nil
}

// New builds the client. readOnly installs the guard that refuses every write below client-go.
func New(f *genericclioptions.ConfigFlags, readOnly bool) (*Client, error) {
	res, err := ResolveContext(f)
	if err != nil {
		return nil, err
	}
	cfg, err := f.ToRESTConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, &apierr.Error{Kind: apierr.NotConfigured, Op: "load kubeconfig",
				Remedy: "gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig", Err: errors.New("no kubeconfig found")}
		}
		return nil, &UsageError{Msg: fmt.Sprintf("cannot use kubeconfig context %q: %v", res.Context, err)}
	}
	return FromConfig(cfg, res, readOnly)
}

// FromConfig builds the client from a rest.Config (tests, in-cluster, the demo world).
func FromConfig(cfg *rest.Config, res Resolved, readOnly bool) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	// Protobuf where the API offers it: a 5,000-Service list is several times smaller and faster.
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.QPS, cfg.Burst = 50, 100
	Guard(cfg, readOnly)
	prev := cfg.WrapTransport
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return &tracked{base: rt}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build Kubernetes client: %w", err)
	}
	return &Client{Config: cfg, Clientset: cs, Context: res.Context, Namespace: res.Namespace,
		InCluster: res.Context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != ""}, nil
}

// Guard installs the read-only transport on cfg when readOnly is set.
func Guard(cfg *rest.Config, readOnly bool) {
	if !readOnly {
		return
	}
	prev := cfg.WrapTransport
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return &guard{base: rt}
	}
}

// reviewPaths are the non-persistent review APIs a read-only run may POST to.
var reviewPaths = []string{
	"/apis/authentication.k8s.io/v1/selfsubjectreviews",
	"/apis/authentication.k8s.io/v1beta1/selfsubjectreviews",
	"/apis/authentication.k8s.io/v1/tokenreviews",
	"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
	"/apis/authorization.k8s.io/v1/subjectaccessreviews",
}

// streamingSubresources can change a workload even on GET (an upgrade to exec runs a command).
var streamingSubresources = []string{"/exec", "/attach", "/portforward", "/proxy"}

// Allowed reports whether a read-only run may send method to path.
func Allowed(method, path string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		for _, s := range streamingSubresources {
			if strings.HasSuffix(path, s) || strings.Contains(path, s+"/") {
				return false
			}
		}
		return true
	case http.MethodPost:
		for _, p := range reviewPaths {
			if path == p {
				return true
			}
		}
	}
	return false
}

type guard struct{ base http.RoundTripper }

// WrappedRoundTripper lets client-go reach the transport below the guard, to cancel a request
// (its wrappers' CancelRequest unwrap through it; without it klog logs "unable to cancel request").
func (g *guard) WrappedRoundTripper() http.RoundTripper { return g.base }

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Allowed(req.Method, req.URL.Path) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &apierr.Error{Kind: apierr.ReadOnly, Op: req.Method, Resource: req.URL.Path,
			Err: errors.New("refused by the read-only guard: not a read")}
	}
	return g.base.RoundTrip(req)
}

// tracked registers each Kubernetes API call with the run's apierr.InFlight until its answer's
// headers arrive, so a run stopped by its deadline names the call it was waiting on.
type tracked struct{ base http.RoundTripper }

func (t *tracked) WrappedRoundTripper() http.RoundTripper { return t.base }

func (t *tracked) RoundTrip(req *http.Request) (*http.Response, error) {
	_, done := apierr.Track(req.Context(), "Kubernetes API "+req.Method+" "+req.URL.Path)
	defer done()
	return t.base.RoundTrip(req)
}
