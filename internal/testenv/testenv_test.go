package testenv_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testContext bounds a test's network calls.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries f every 100ms until it returns nil or ctx ends; the
// apiserver applies RBAC and ServiceAccount changes through informers, so
// their effect lags the write by a few milliseconds.
func eventually(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", context.Cause(ctx), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestServerDefaults checks what the rest of the suite relies on: the
// kubeconfig, the version, GKE's service range and the default
// ServiceAccount that the missing controller-manager would have created.
func TestServerDefaults(t *testing.T) {
	t.Parallel()
	srv := testenv.Shared(t)
	ctx := testContext(t)

	cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigPath)
	if err != nil {
		t.Fatalf("load kubeconfig %s: %v", srv.KubeconfigPath, err)
	}
	raw, err := clientcmd.LoadFromFile(srv.KubeconfigPath)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	if raw.CurrentContext != testenv.KubeconfigContext {
		t.Errorf("kubeconfig current-context = %q, want %q", raw.CurrentContext, testenv.KubeconfigContext)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client from kubeconfig: %v", err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version via kubeconfig: %v", err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.36.") {
		t.Errorf("server version = %q, want v1.36.x", v.GitVersion)
	}

	svc, err := srv.Clientset().CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get the kubernetes Service: %v", err)
	}
	if svc.Spec.ClusterIP != "34.118.224.1" {
		t.Errorf("kubernetes Service ClusterIP = %s, want 34.118.224.1 (first address of %s)", svc.Spec.ClusterIP, testenv.ServiceClusterIPRange)
	}
	if _, err := srv.Clientset().CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("default/default ServiceAccount: %v", err)
	}

	ns := srv.NewNamespace(t)
	if _, err := srv.Clientset().CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("NewNamespace did not create %s/default ServiceAccount: %v", ns, err)
	}
	// The ServiceAccount admission plugin is on: a pod without a
	// serviceAccountName gets "default", which must exist.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/c"}}},
	}
	created, err := srv.Clientset().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if created.Spec.ServiceAccountName != "default" {
		t.Errorf("pod serviceAccountName = %q, want default (admitted by the ServiceAccount plugin)", created.Spec.ServiceAccountName)
	}
}

// TestRecreatedServiceAccountInvalidatesToken reproduces FAILURE-MODES.md
// §4: a bound token keeps the ServiceAccount's UID, so deleting and
// re-creating the ServiceAccount under the same name turns the token's calls
// into 401s, and the server says why.
func TestRecreatedServiceAccountInvalidatesToken(t *testing.T) {
	t.Parallel()
	srv := testenv.Shared(t)
	ctx := testContext(t)
	admin := srv.Clientset()
	ns := srv.NewNamespace(t)
	const saName = "orchestrai-sa"

	sa, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: saName}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create ServiceAccount: %v", err)
	}
	oldUID := sa.UID
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "orchestrai-sa-cluster-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: saName}},
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRoleBinding: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.RbacV1().ClusterRoleBindings().Delete(ctx, crb.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete ClusterRoleBinding: %v", err)
		}
	})

	token, err := srv.ServiceAccountToken(ctx, ns, saName, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := srv.ClientForToken(token)
	if client == nil {
		t.Fatal("ClientForToken returned no client")
	}
	listPods := func() error {
		_, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err
	}
	if err := eventually(ctx, listPods); err != nil {
		t.Fatalf("list pods with the %s token before re-creation: %v", saName, err)
	}

	if err := admin.CoreV1().ServiceAccounts(ns).Delete(ctx, saName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete ServiceAccount: %v", err)
	}
	sa, err = admin.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: saName}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("re-create ServiceAccount: %v", err)
	}
	newUID := sa.UID
	if newUID == oldUID {
		t.Fatalf("re-created ServiceAccount kept UID %s", oldUID)
	}

	// kube-apiserver caches successful token authentications for 10 s (a
	// constant, TokenSuccessCacheTTL, with no flag), so the old token keeps
	// working that long after the re-creation, in production too.
	recreated := time.Now()
	err = eventually(ctx, func() error {
		err := listPods()
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return fmt.Errorf("want 401 Unauthorized, got %v", err)
	})
	if err != nil {
		t.Fatalf("list pods with the old token after re-creation: %v", err)
	}
	t.Logf("old token rejected with 401 %v after the ServiceAccount was re-created", time.Since(recreated).Round(time.Millisecond))

	// Why: TokenReview (what gkedoctor's check calls) and the server log.
	want := fmt.Sprintf("service account UID (%s) does not match claim (%s)", newUID, oldUID)
	review, err := admin.AuthenticationV1().TokenReviews().Create(ctx,
		&authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenReview: %v", err)
	}
	if review.Status.Authenticated || !strings.Contains(review.Status.Error, want) {
		t.Errorf("TokenReview status = authenticated %v, error %q; want unauthenticated with %q",
			review.Status.Authenticated, review.Status.Error, want)
	}
	err = eventually(ctx, func() error {
		b, err := os.ReadFile(srv.APIServerLogPath)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("%s does not mention %q", srv.APIServerLogPath, want)
		}
		return nil
	})
	if err != nil {
		t.Errorf("kube-apiserver log: %v", err)
	}

	// The audit log proves both sides: the SA's successful list, and the
	// rejected one, which has no user because authentication failed.
	podsURI := "/api/v1/namespaces/" + ns + "/pods"
	saUser := "system:serviceaccount:" + ns + ":" + saName
	if _, err := srv.AwaitAuditEvents(ctx, func(e testenv.AuditEvent) bool {
		return e.Verb == "list" && e.User.Username == saUser && e.Code() == http.StatusOK &&
			e.ObjectRef != nil && e.ObjectRef.Resource == "pods" && e.ObjectRef.Namespace == ns
	}); err != nil {
		t.Errorf("audit event for the %s pod list: %v", saUser, err)
	}
	if _, err := srv.AwaitAuditEvents(ctx, func(e testenv.AuditEvent) bool {
		return e.Code() == http.StatusUnauthorized && strings.HasPrefix(e.RequestURI, podsURI)
	}); err != nil {
		t.Errorf("audit event for the 401 on %s: %v", podsURI, err)
	}
}

// TestWebSocketUpgradeOnPodListIs200 reproduces FAILURE-MODES.md §5: a
// plain REST endpoint ignores WebSocket upgrade headers and answers 200,
// which websocket clients report as "Handshake status 200 OK".
func TestWebSocketUpgradeOnPodListIs200(t *testing.T) {
	t.Parallel()
	srv := testenv.Shared(t)
	ctx := testContext(t)

	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CAData) {
		t.Fatal("CAData does not parse")
	}
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		// HTTP/1.1 only: an upgrade does not exist in HTTP/2.
		Config: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}},
	}
	conn, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}

	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(nonce)
	userAgent := "testenv-websocket-probe/" + key[:8]
	const path = "/api/v1/namespaces/default/pods"
	req := "GET " + path + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Authorization: Bearer " + srv.AdminToken + "\r\n" +
		"User-Agent: " + userAgent + "\r\n" +
		"Connection: Upgrade\r\n" +
		"Upgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n" +
		"\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		t.Fatalf("GET %s with upgrade headers switched protocols; want the plain 200 of the seed", path)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s with upgrade headers: %s: %s", path, resp.Status, body)
	}
	if got := resp.Header.Get("Upgrade"); got != "" {
		t.Errorf("response Upgrade header = %q, want none", got)
	}
	var list struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Kind != "PodList" {
		t.Errorf("body is not a PodList (kind %q, err %v): %.200s", list.Kind, err, body)
	}
	t.Logf("handshake status %s (what websocket-client reports as \"Handshake status 200 OK\")", resp.Status)

	if _, err := srv.AwaitAuditEvents(ctx, func(e testenv.AuditEvent) bool {
		return e.UserAgent == userAgent && e.RequestURI == path && e.Verb == "list" &&
			e.User.Username == testenv.AdminUser && e.Code() == http.StatusOK
	}); err != nil {
		t.Errorf("audit event for the upgrade GET: %v", err)
	}
}

// TestStopLeavesNoProcess runs a private server and checks that Stop kills
// both processes (and their groups) and removes the temporary directory.
func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	start := time.Now()
	srv, err := testenv.Start(ctx, testenv.Options{})
	if errors.Is(err, testenv.ErrNoBinaries) && os.Getenv(testenv.EnvRequireTestBin) != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd and kube-apiserver ready in %v", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.Stop()
		}
	})

	pids := srv.PIDs()
	if len(pids) != 2 {
		t.Fatalf("PIDs() = %v, want kube-apiserver and etcd", pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("pid %d not running before Stop: %v", pid, err)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	for _, pid := range pids {
		// Stop reaps the processes, so their pids are free: both the
		// process and its group (pgid == pid) must be gone.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d after Stop: kill(pid, 0) = %v, want ESRCH", pid, err)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d after Stop: kill(-pgid, 0) = %v, want ESRCH", pid, err)
		}
	}
	if _, err := os.Stat(srv.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s after Stop: %v, want it removed", srv.Dir, err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
