package testenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// Issuer is the ServiceAccount token issuer, and the default API
	// audience, of the server.
	Issuer = "https://kubernetes.default.svc.cluster.local"
	// ServiceClusterIPRange is GKE's default services range, so ClusterIPs
	// look like production ones.
	ServiceClusterIPRange = "34.118.224.0/20"
	// AdminUser is the user name of AdminToken; it is in system:masters.
	AdminUser = "testenv-admin"
	// KubeconfigContext names the context (and cluster) in KubeconfigPath.
	KubeconfigContext = "testenv"

	defaultStartTimeout = 90 * time.Second
	stopTimeout         = 10 * time.Second
	// Attempts at binding a server when another process took the free port
	// between freePorts and the server's bind.
	bindAttempts = 3
)

// ErrNoBinaries is wrapped by Start's error when kube-apiserver or etcd is
// missing from the bin directory.
var ErrNoBinaries = errNoBinaries

// Options tunes Start. The zero value is ready to use.
type Options struct {
	// BinDir holds the kube-apiserver and etcd binaries; "" means BinDir().
	BinDir string
	// StartTimeout bounds the start-up of both servers (with ctx's own
	// deadline, whichever is first); 0 means 90 seconds.
	StartTimeout time.Duration
	// APIAudiences are the kube-apiserver's --api-audiences; nil means
	// []string{Issuer}.
	APIAudiences []string
	// ExtraAPIServerArgs are appended to the kube-apiserver command line, so
	// a flag given here overrides the default set earlier.
	ExtraAPIServerArgs []string
}

// APIServer is a running kube-apiserver and its etcd. The exported fields
// are set by Start and must not be modified.
type APIServer struct {
	// URL is the server's https://127.0.0.1:<port> address.
	URL string
	// AdminToken is a static bearer token of AdminUser, in system:masters.
	AdminToken string
	// KubeconfigPath names a kubeconfig with one context, KubeconfigContext,
	// that uses AdminToken.
	KubeconfigPath string
	// CAData is the PEM CA certificate that signed the serving certificate.
	CAData []byte
	// AuditLogPath is the JSON-lines audit log (every request at Metadata
	// level, written before the response completes).
	AuditLogPath string
	// APIServerLogPath and EtcdLogPath hold the servers' output.
	APIServerLogPath string
	EtcdLogPath      string
	// EtcdURL is etcd's client URL.
	EtcdURL string
	// Dir is the temporary directory holding certificates, keys, logs and
	// etcd's data; Stop removes it.
	Dir string

	apiAudiences []string
	etcd         *process
	apiserver    *process
	clientset    *kubernetes.Clientset
	httpClient   *http.Client // the clientset's, to close its connections

	stopOnce sync.Once
	stopErr  error
}

// Start runs etcd and kube-apiserver on free loopback ports and returns once
// /readyz answers 200 and the default ServiceAccounts exist. The caller must
// Stop the server. ctx bounds start-up only, not the servers' lifetime.
// When a binary is missing the error wraps ErrNoBinaries; any other error
// carries the tail of the server logs.
func Start(ctx context.Context, opts Options) (*APIServer, error) {
	if !supported {
		return nil, errors.New("testenv: kube-apiserver test servers need a Unix system")
	}
	bin := opts.BinDir
	if bin == "" {
		bin = BinDir()
	}
	if err := checkBinaries(bin); err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	sweepStaleDirs()
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: %w", err)
	}
	s := &APIServer{
		Dir:              dir,
		KubeconfigPath:   filepath.Join(dir, "kubeconfig"),
		AuditLogPath:     filepath.Join(dir, "audit.log"),
		APIServerLogPath: filepath.Join(dir, "kube-apiserver.log"),
		EtcdLogPath:      filepath.Join(dir, "etcd.log"),
		apiAudiences:     opts.APIAudiences,
	}
	if len(s.apiAudiences) == 0 {
		s.apiAudiences = []string{Issuer}
	}
	if err := s.start(ctx, bin, opts.ExtraAPIServerArgs); err != nil {
		return nil, fmt.Errorf("testenv: %w", errors.Join(err, s.stop(false)))
	}
	return s, nil
}

func (s *APIServer) start(ctx context.Context, bin string, extraArgs []string) error {
	token, err := randomHex(32)
	if err != nil {
		return err
	}
	s.AdminToken = token

	// The first address of the services range is the kubernetes Service's.
	serviceIP := net.IPv4(34, 118, 224, 1)
	keys, err := newPKI(serviceIP)
	if err != nil {
		return err
	}
	s.CAData = keys.caPEM
	certDir := filepath.Join(s.Dir, "certs")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return err
	}
	err = writeFiles(map[string][]byte{
		filepath.Join(certDir, "ca.crt"):          keys.caPEM,
		filepath.Join(certDir, "apiserver.crt"):   keys.servingCert,
		filepath.Join(certDir, "apiserver.key"):   keys.servingKey,
		filepath.Join(s.Dir, "sa.key"):            keys.saPrivateKey,
		filepath.Join(s.Dir, "sa.pub"):            keys.saPublicKey,
		filepath.Join(s.Dir, "tokens.csv"):        []byte(fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", token, AdminUser, AdminUser)),
		filepath.Join(s.Dir, "audit-policy.yaml"): []byte(auditPolicy),
	})
	if err != nil {
		return fmt.Errorf("write server files: %w", err)
	}

	if err := s.startEtcd(ctx, filepath.Join(bin, etcdBin)); err != nil {
		return err
	}
	if err := s.startAPIServer(ctx, filepath.Join(bin, apiserverBin), certDir, extraArgs); err != nil {
		return err
	}
	cfg := s.RESTConfig()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	s.clientset, s.httpClient = cs, hc
	if err := s.awaitBootstrap(ctx); err != nil {
		return err
	}
	return s.writeKubeconfig()
}

// The audit policy logs every request at Metadata level. RequestReceived is
// omitted so that each request gives one event (ResponseComplete, or
// ResponseStarted as well for watches and failed authentication).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

func (s *APIServer) startEtcd(ctx context.Context, bin string) error {
	dataDir := filepath.Join(s.Dir, "etcd")
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		args := []string{
			"--name=testenv",
			"--data-dir=" + dataDir,
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=testenv=" + peerURL,
			"--initial-cluster-state=new",
			// Test data need not survive a crash; fsync dominates start-up
			// and write latency on small machines.
			"--unsafe-no-fsync=true",
			"--logger=zap",
			"--log-outputs=stderr",
		}
		p, err := startProcess("etcd", bin, args, s.EtcdLogPath)
		if err != nil {
			return err
		}
		s.etcd = p
		s.EtcdURL = clientURL
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
		err = waitFor(ctx, p, func(ctx context.Context) (bool, string) {
			return probe(ctx, client, clientURL+"/health", "", func(code int, body string) bool {
				return code == http.StatusOK && strings.Contains(body, `"health":"true"`)
			})
		})
		client.CloseIdleConnections()
		if err == nil {
			return nil
		}
		if attempt < bindAttempts && p.portInUse() {
			if kerr := p.kill(stopTimeout); kerr != nil {
				return errors.Join(err, kerr)
			}
			if rerr := os.RemoveAll(dataDir); rerr != nil {
				return errors.Join(err, rerr)
			}
			continue
		}
		return err
	}
}

func (s *APIServer) startAPIServer(ctx context.Context, bin, certDir string, extraArgs []string) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAData) {
		return errors.New("generated CA does not parse")
	}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[0])
		args := []string{
			"--etcd-servers=" + s.EtcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--cert-dir=" + certDir,
			"--tls-cert-file=" + filepath.Join(certDir, "apiserver.crt"),
			"--tls-private-key-file=" + filepath.Join(certDir, "apiserver.key"),
			"--service-account-issuer=" + Issuer,
			"--service-account-key-file=" + filepath.Join(s.Dir, "sa.pub"),
			"--service-account-signing-key-file=" + filepath.Join(s.Dir, "sa.key"),
			"--api-audiences=" + strings.Join(s.apiAudiences, ","),
			"--authorization-mode=RBAC",
			"--token-auth-file=" + filepath.Join(s.Dir, "tokens.csv"),
			"--service-cluster-ip-range=" + ServiceClusterIPRange,
			"--audit-policy-file=" + filepath.Join(s.Dir, "audit-policy.yaml"),
			"--audit-log-path=" + s.AuditLogPath,
			"--audit-log-format=json",
			// Synchronous, so a test reads the event of a request that has
			// just returned.
			"--audit-log-mode=blocking",
			// API Priority and Fairness only slows start-up here.
			"--enable-priority-and-fairness=false",
			// The kubernetes Service is still created, but its Endpoints
			// would hold the loopback advertise address, which validation
			// rejects every 10 s; without endpoints the log stays readable.
			"--endpoint-reconciler-type=none",
		}
		args = append(args, extraArgs...)
		p, err := startProcess("kube-apiserver", bin, args, s.APIServerLogPath)
		if err != nil {
			return err
		}
		s.apiserver = p
		client := &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		}
		err = waitFor(ctx, p, func(ctx context.Context) (bool, string) {
			return probe(ctx, client, s.URL+"/readyz", s.AdminToken, func(code int, _ string) bool {
				return code == http.StatusOK
			})
		})
		client.CloseIdleConnections()
		if err == nil {
			return nil
		}
		if attempt < bindAttempts && p.portInUse() {
			if kerr := p.kill(stopTimeout); kerr != nil {
				return errors.Join(err, kerr)
			}
			continue
		}
		return fmt.Errorf("%w\nlast lines of %s:\n%s", err, s.EtcdLogPath, tailFile(s.EtcdLogPath, 15))
	}
}

// waitFor polls check until it reports ready, p exits, or ctx ends.
func waitFor(ctx context.Context, p *process, check func(context.Context) (bool, string)) error {
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		if done, err := p.exited(); done {
			return p.exitError(err)
		}
		ok, detail := check(ctx)
		if ok {
			return nil
		}
		last = detail
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v (%v); last probe: %s\nlast lines of %s:\n%s",
				p.name, time.Since(start).Round(time.Millisecond), context.Cause(ctx), last,
				p.logPath, tailFile(p.logPath, 40))
		case <-tick.C:
		}
	}
}

// probe GETs url and reports whether ok accepts the answer, with a
// description of the answer for error messages.
func probe(ctx context.Context, client *http.Client, url, token string, ok func(code int, body string) bool) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return false, err.Error()
	}
	return ok(resp.StatusCode, string(body)), fmt.Sprintf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
}

// awaitBootstrap waits for what the server creates on its own shortly after
// /readyz (the system namespaces, the kubernetes Service) and creates what
// kube-controller-manager's serviceaccount controller would: the default
// ServiceAccounts, without which the ServiceAccount admission plugin rejects
// pods that name none.
func (s *APIServer) awaitBootstrap(ctx context.Context) error {
	var steps []func(context.Context) error
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		steps = append(steps, func(ctx context.Context) error {
			if err := s.createServiceAccount(ctx, ns, "default"); err != nil {
				return fmt.Errorf("create ServiceAccount %s/default: %w", ns, err)
			}
			return nil
		})
	}
	steps = append(steps, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := s.clientset.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get Service default/kubernetes: %w", err)
		}
		return nil
	})
	for _, step := range steps {
		for {
			err := step(ctx)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (%v)\n%s", err, context.Cause(ctx), s.LogTail(20))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// createServiceAccount creates ns/name, treating an existing one as success.
func (s *APIServer) createServiceAccount(ctx context.Context, ns, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	_, err := s.clientset.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (s *APIServer) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigContext] = &clientcmdapi.Cluster{
		Server:                   s.URL,
		CertificateAuthorityData: s.CAData,
	}
	cfg.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{Token: s.AdminToken}
	cfg.Contexts[KubeconfigContext] = &clientcmdapi.Context{
		Cluster:   KubeconfigContext,
		AuthInfo:  AdminUser,
		Namespace: metav1.NamespaceDefault,
	}
	cfg.CurrentContext = KubeconfigContext
	if err := clientcmd.WriteToFile(*cfg, s.KubeconfigPath); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// RESTConfig returns a new config for the admin user; callers may modify it.
func (s *APIServer) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     s.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: slices.Clone(s.CAData)},
		// Tests burst; client-side throttling would only slow them.
		QPS:   200,
		Burst: 400,
	}
}

// Clientset returns the admin client (shared; safe for concurrent use).
func (s *APIServer) Clientset() kubernetes.Interface {
	return s.clientset
}

// PIDs returns the process ids of kube-apiserver and etcd.
func (s *APIServer) PIDs() []int {
	var pids []int
	for _, p := range []*process{s.apiserver, s.etcd} {
		if p != nil {
			pids = append(pids, p.pid())
		}
	}
	return pids
}

// LogTail returns the last n lines of both server logs, for failure messages.
func (s *APIServer) LogTail(n int) string {
	return fmt.Sprintf("--- %s\n%s\n--- %s\n%s", s.APIServerLogPath, tailFile(s.APIServerLogPath, n),
		s.EtcdLogPath, tailFile(s.EtcdLogPath, n))
}

// Stop kills both servers (their whole process groups), waits for them to
// exit and removes Dir. It is safe to call more than once; later calls
// return the first call's result.
func (s *APIServer) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(false) })
	return s.stopErr
}

// stop kills the servers and removes Dir, or, with keepLogs, only etcd's
// data (the logs and audit log stay for a post-mortem).
func (s *APIServer) stop(keepLogs bool) error {
	var errs []error
	if s.httpClient != nil {
		s.httpClient.CloseIdleConnections()
	}
	// kube-apiserver first, so it does not log etcd's disappearance.
	for _, p := range []*process{s.apiserver, s.etcd} {
		if p != nil {
			if err := p.kill(stopTimeout); err != nil {
				errs = append(errs, err)
			}
		}
	}
	target := s.Dir
	if keepLogs {
		target = filepath.Join(s.Dir, "etcd")
	}
	if target != "" {
		if err := os.RemoveAll(target); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
