// Package gcp builds the google.golang.org/api clients gkedoctor uses (container, compute, dns, run v2,
// vpcaccess, cloudresourcemanager v1 and v2, iam, appengine), all behind one endpoint override and one transport stack:
// authentication (Application Default Credentials through the library's own auth), the read-only
// guard, and retry with backoff for rate limits. Errors are mapped once, here, to apierr kinds.
package gcp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	appengine "google.golang.org/api/appengine/v1"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"
	iam "google.golang.org/api/iam/v1"
	logging "google.golang.org/api/logging/v2"
	nm "google.golang.org/api/networkmanagement/v1"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
	htransport "google.golang.org/api/transport/http"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// EndpointEnv is the environment variable that sends every Google API call to one base URL.
const EndpointEnv = "GKEDOCTOR_GCP_ENDPOINT"

// Options configure the clients.
type Options struct {
	// Endpoint, when set, replaces every API's host (http://HOST:PORT). Requests then carry no
	// credentials: it is meant for the test server, the demo world and emulators.
	Endpoint string
	ReadOnly bool
	// Base is the innermost transport (default http.DefaultTransport clone).
	Base http.RoundTripper
	// CallTimeout bounds each HTTP attempt (default 30s); the caller's context bounds the whole call.
	CallTimeout time.Duration
	// MaxRetries for 429/503 on idempotent calls (default 3).
	MaxRetries int
	// UserAgent for requests.
	UserAgent string
}

// Clients are the Google API clients of one run.
type Clients struct {
	Container *container.Service
	Compute   *compute.Service
	DNS       *dns.Service
	Run       *run.Service
	VPCAccess *vpcaccess.Service
	CRM       *crm.Service
	// CRMv2 reads folders' IAM policies (the v1 API has none).
	CRMv2     *crmv2.Service
	IAM       *iam.Service
	AppEngine *appengine.APIService
	// Logging reads a Cloud Run job's output (the --from cloud-run vantage point).
	Logging *logging.Service
	// NetworkManagement runs connectivity tests (--connectivity-test).
	NetworkManagement *nm.Service
	ReadOnly          bool
	Endpoint          string
}

// EndpointFromEnv returns $GKEDOCTOR_GCP_ENDPOINT, parsed in full: an http:// or https:// base URL
// with a host and nothing else (no user, query or fragment). Anything else is an error naming the
// variable, so a malformed value never reaches the Google client (which panics on some).
func EndpointFromEnv() (string, error) {
	return ParseEndpoint(os.Getenv(EndpointEnv))
}

// ParseEndpoint validates an endpoint override ("" means none).
func ParseEndpoint(raw string) (string, error) {
	v := strings.TrimRight(raw, "/")
	if v == "" {
		return "", nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%s=%q is not a base URL (http://HOST:PORT): %s", EndpointEnv, raw, why)
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f {
			return "", bad("it contains a space or a control character")
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", bad("it does not parse as a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("the scheme must be http or https")
	case u.Opaque != "" || u.Host == "":
		return "", bad("it has no host")
	case u.User != nil:
		return "", bad("credentials do not belong in it")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", bad("it has a query or a fragment")
	case u.Hostname() == "":
		return "", bad("it has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", bad("the port must be a number from 1 to 65535")
		}
	}
	return v, nil
}

// New builds the clients. Without an endpoint override it needs Application Default Credentials; when
// there are none it returns an apierr NotConfigured error naming the command that creates them.
func New(ctx context.Context, o Options) (*Clients, error) {
	base := o.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	}
	// Innermost first: the guard sits below auth so a refused call never even fetches a token.
	var rt http.RoundTripper = &retryTransport{base: base, max: o.MaxRetries, attemptTimeout: o.CallTimeout}
	rt = &Guard{Base: rt, ReadOnly: o.ReadOnly}
	endpoint := strings.TrimRight(o.Endpoint, "/")
	if endpoint != "" {
		// The Google client panics on some malformed endpoints: nothing malformed reaches it.
		if _, err := ParseEndpoint(endpoint); err != nil {
			return nil, err
		}
	}
	if endpoint == "" {
		authed, err := htransport.NewTransport(ctx, rt, option.WithScopes("https://www.googleapis.com/auth/cloud-platform"))
		if err != nil {
			return nil, &apierr.Error{Kind: apierr.NotConfigured, Op: "load Google credentials",
				Remedy: "gcloud auth application-default login", Err: fmt.Errorf("no usable Application Default Credentials: %v", firstLine(err.Error()))}
		}
		rt = authed
	}
	hc := &http.Client{Transport: rt}
	opts := func(path string) []option.ClientOption {
		os := []option.ClientOption{option.WithHTTPClient(hc)}
		if o.UserAgent != "" {
			os = append(os, option.WithUserAgent(o.UserAgent))
		}
		if endpoint != "" {
			os = append(os, option.WithEndpoint(endpoint+"/"+path))
		}
		return os
	}
	c := &Clients{ReadOnly: o.ReadOnly, Endpoint: endpoint}
	var err error
	if c.Container, err = container.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("container client: %w", err)
	}
	if c.Compute, err = compute.NewService(ctx, opts("compute/v1/")...); err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	if c.DNS, err = dns.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("dns client: %w", err)
	}
	if c.Run, err = run.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("run client: %w", err)
	}
	if c.VPCAccess, err = vpcaccess.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("vpcaccess client: %w", err)
	}
	if c.CRM, err = crm.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("cloudresourcemanager client: %w", err)
	}
	if c.CRMv2, err = crmv2.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("cloudresourcemanager v2 client: %w", err)
	}
	if c.IAM, err = iam.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("iam client: %w", err)
	}
	if c.AppEngine, err = appengine.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("appengine client: %w", err)
	}
	if c.Logging, err = logging.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("logging client: %w", err)
	}
	if c.NetworkManagement, err = nm.NewService(ctx, opts("")...); err != nil {
		return nil, fmt.Errorf("networkmanagement client: %w", err)
	}
	return c, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
