package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

func TestTokenReviewOfTheSeedTokens(t *testing.T) {
	w := start(t, Options{})
	ctx := ctxT(t, 10*time.Second)
	kc := w.KubeClient(true) // the review APIs pass the read-only guard
	review := func(tok string) *authnv1.TokenReview {
		t.Helper()
		r, err := kc.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("TokenReview: %v", err)
		}
		return r
	}
	// The legacy Secret's token was issued for the ServiceAccount before it was re-created.
	old := review(w.LegacyToken())
	want := "ServiceAccount UID (" + SAUID + ") does not match claim (" + OldSAUID + ")"
	if old.Status.Authenticated || !strings.Contains(old.Status.Error, want) {
		t.Fatalf("legacy token: authenticated=%v error=%q, want %q", old.Status.Authenticated, old.Status.Error, want)
	}
	sec, err := kc.CoreV1().Secrets("default").Get(ctx, TokenSecret, metav1.GetOptions{})
	if err != nil || string(sec.Data["token"]) != w.LegacyToken() || sec.Annotations[corev1.ServiceAccountUIDKey] != OldSAUID {
		t.Fatalf("token Secret: %v", err)
	}

	// A fresh TokenRequest works.
	tr, err := w.Kube().CoreV1().ServiceAccounts("default").CreateToken(ctx, ServiceAccount,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	fresh := review(tr.Status.Token)
	if !fresh.Status.Authenticated || fresh.Status.User.Username != "system:serviceaccount:default:"+ServiceAccount || fresh.Status.User.UID != SAUID {
		t.Fatalf("fresh token: %+v", fresh.Status)
	}
	if len(fresh.Status.Audiences) != 1 || fresh.Status.Audiences[0] != Issuer {
		t.Errorf("audiences = %v", fresh.Status.Audiences)
	}
	// The wrong audience is refused, as kube-apiserver refuses it.
	r, err := kc.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: tr.Status.Token, Audiences: []string{"vault"}}}, metav1.CreateOptions{})
	if err != nil || r.Status.Authenticated || !strings.Contains(r.Status.Error, "is invalid for the target audiences") {
		t.Errorf("wrong audience: %+v, %v", r.Status, err)
	}
	// A bound token goes bad the same way once the ServiceAccount is re-created again.
	sas := w.Kube().CoreV1().ServiceAccounts("default")
	if err := sas.Delete(ctx, ServiceAccount, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sa, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccount}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again := review(tr.Status.Token)
	want = "service account UID (" + string(sa.UID) + ") does not match claim (" + SAUID + ")"
	if again.Status.Authenticated || again.Status.Error != want {
		t.Errorf("bound token after re-creation: %+v, want %q", again.Status, want)
	}
	// A token bound to a pod records it.
	pod, err := w.Kube().CoreV1().Pods("default").Get(ctx, envManagerPod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound, err := sas.CreateToken(ctx, ServiceAccount, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{
		BoundObjectRef: &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := review(bound.Status.Token); !r.Status.Authenticated || r.Status.User.Extra["authentication.kubernetes.io/pod-name"][0] != pod.Name {
		t.Errorf("pod-bound token: %+v", r.Status)
	}
	if _, err := sas.CreateToken(ctx, "nobody", &authnv1.TokenRequest{}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("TokenRequest for a missing ServiceAccount: %v, want 404", err)
	}
}

func TestSelfAndSubjectAccessReviews(t *testing.T) {
	w := start(t, Options{})
	ctx := ctxT(t, 10*time.Second)
	kc := w.KubeClient(true)
	ssr, err := kc.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || ssr.Status.UserInfo.Username != DemoUser {
		t.Fatalf("SelfSubjectReview: %+v, %v", ssr, err)
	}
	ssar, err := kc.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authzv1.ResourceAttributes{Verb: "create", Resource: "services", Namespace: "default"}}}, metav1.CreateOptions{})
	if err != nil || !ssar.Status.Allowed {
		t.Fatalf("SelfSubjectAccessReview: %+v, %v", ssar, err)
	}
	sar, err := w.Kube().AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: "system:serviceaccount:default:" + ServiceAccount, Groups: []string{"system:serviceaccounts", "system:authenticated"},
		ResourceAttributes: &authzv1.ResourceAttributes{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "default"}}}, metav1.CreateOptions{})
	if err != nil || !sar.Status.Allowed || !strings.Contains(sar.Status.Reason, "orchestrai-sa-cluster-admin") {
		t.Fatalf("SubjectAccessReview for orchestrai-sa: %+v, %v", sar.Status, err)
	}
	sar, err = w.Kube().AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: "system:serviceaccount:default:default", ResourceAttributes: &authzv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "default"}}}, metav1.CreateOptions{})
	if err != nil || sar.Status.Allowed {
		t.Fatalf("SubjectAccessReview for default: %+v, %v", sar.Status, err)
	}
}

func TestReadOnlyClientRefusesEveryWrite(t *testing.T) {
	w := start(t, Options{})
	ctx := ctxT(t, 10*time.Second)
	ro := w.KubeClient(true)
	before, err := ro.CoreV1().Services("default").Get(ctx, "development-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("read through the read-only client: %v", err)
	}
	readOnly := func(what string, err error) {
		t.Helper()
		var e *apierr.Error
		if !errors.As(err, &e) || e.Kind != apierr.ReadOnly {
			t.Errorf("%s: %v (%T), want an *apierr.Error of kind %s", what, err, err, apierr.ReadOnly)
		}
	}
	_, err = ro.CoreV1().Services("default").Create(ctx, ilbService("development-agent"), metav1.CreateOptions{})
	readOnly("create", err)
	changed := before.DeepCopy()
	changed.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
	_, err = ro.CoreV1().Services("default").Update(ctx, changed, metav1.UpdateOptions{})
	readOnly("update", err)
	_, err = ro.CoreV1().Services("default").UpdateStatus(ctx, changed, metav1.UpdateOptions{})
	readOnly("update status", err)
	_, err = ro.CoreV1().Services("default").Patch(ctx, "development-agent", types.MergePatchType, []byte(`{"spec":{"type":"LoadBalancer"}}`), metav1.PatchOptions{})
	readOnly("patch", err)
	readOnly("delete", ro.CoreV1().Services("default").Delete(ctx, "development-agent", metav1.DeleteOptions{}))
	_, err = ro.CoreV1().ServiceAccounts("default").CreateToken(ctx, ServiceAccount, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	readOnly("TokenRequest", err)
	_, err = ro.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ip-masq-agent"}}, metav1.CreateOptions{})
	readOnly("create ConfigMap", err)

	after, err := w.Kube().CoreV1().Services("default").Get(ctx, "development-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || after.Spec.Type != corev1.ServiceTypeClusterIP || len(after.Annotations) != 0 {
		t.Errorf("the state changed: %+v", after)
	}
	if _, err := w.Kube().CoreV1().ConfigMaps("kube-system").Get(ctx, "ip-masq-agent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap: %v, want not found", err)
	}
	// Lists and watches work, on the same state.
	l, err := ro.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 5 { // kubernetes, kube-dns, the two agents, seed 002's gateway
		t.Fatalf("list Services: %d, %v", len(l.Items), err)
	}
	wt, err := ro.CoreV1().Services("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=development-agent-ilb", ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer wt.Stop()
	if _, err := w.Kube().CoreV1().Services("default").Create(ctx, ilbService("environment-manager"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Kube().CoreV1().Services("default").Create(ctx, ilbService("development-agent"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-wt.ResultChan():
		if s, ok := e.Object.(*corev1.Service); !ok || e.Type != watch.Added || s.Name != "development-agent-ilb" {
			t.Errorf("watch event = %s %T; the field selector should have filtered the other Service", e.Type, e.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
}

func TestKubeBehavesLikeAnAPIServer(t *testing.T) {
	w := start(t, Options{})
	ctx := ctxT(t, 10*time.Second)
	svcs := w.Kube().CoreV1().Services("default")
	s, err := svcs.Create(ctx, ilbService("development-agent"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.UID == "" || s.ResourceVersion == "" || s.CreationTimestamp.IsZero() || s.Spec.ClusterIP == "" || s.Spec.Ports[0].NodePort < 30000 {
		t.Errorf("created Service lacks server-set fields: %+v", s)
	}
	// Optimistic concurrency: a stale resourceVersion is a 409.
	stale := s.DeepCopy()
	s.Labels = map[string]string{"a": "b"}
	if _, err := svcs.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale.Labels = map[string]string{"c": "d"}
	if _, err := svcs.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: %v, want 409", err)
	}
	// An update of the Service does not wipe its status; a ClusterIP cannot change.
	eventually(t, 5*time.Second, "ingress", func() error {
		cur, err := svcs.Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil || len(cur.Status.LoadBalancer.Ingress) == 0 {
			return errors.New("pending")
		}
		return nil
	})
	cur, _ := svcs.Get(ctx, s.Name, metav1.GetOptions{})
	cur.Status = corev1.ServiceStatus{}
	cur.Labels["e"] = "f"
	upd, err := svcs.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil || len(upd.Status.LoadBalancer.Ingress) == 0 {
		t.Errorf("update wiped the status: %+v, %v", upd.Status, err)
	}
	upd.Spec.ClusterIP = "34.118.224.99"
	if _, err := svcs.Update(ctx, upd, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("changing the ClusterIP: %v, want 422", err)
	}
	// Field selectors apply to lists.
	pods, err := w.Kube().CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != node1 {
			t.Errorf("field selector let %s on %s through", p.Name, p.Spec.NodeName)
		}
	}
	if len(pods.Items) != 3 {
		t.Errorf("%d pods on %s, want 3", len(pods.Items), node1)
	}
	if _, err := w.Kube().CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field: %v, want 400", err)
	}
	v, err := w.Kube().Discovery().ServerVersion()
	if err != nil || v.GitVersion != "v"+Version {
		t.Errorf("server version: %v, %v", v, err)
	}
}

// rawRequest sends one HTTP/1.1 request and returns the status line and headers.
func rawRequest(t *testing.T, base, path string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", hostPort(base), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	body := ""
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return resp.StatusCode, resp.Header, body
}

func TestExecEndpoint(t *testing.T) {
	w := start(t, Options{})
	upgrade := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "v5.channel.k8s.io,v4.channel.k8s.io"}
	exec := "/api/v1/namespaces/default/pods/" + envManagerPod + "/exec?command=ls&stdout=true"

	code, h, _ := rawRequest(t, w.ExecURL(), exec, upgrade)
	if code != http.StatusSwitchingProtocols || h.Get("Sec-WebSocket-Protocol") != "v5.channel.k8s.io" ||
		h.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("exec with upgrade headers: %d %v, want 101 with v5.channel.k8s.io", code, h)
	}
	// The seed's "Handshake status 200 OK": upgrade headers on a plain endpoint.
	code, _, body := rawRequest(t, w.ExecURL(), "/api/v1/namespaces/default/pods", upgrade)
	if code != http.StatusOK {
		t.Errorf("pod list with upgrade headers: %d, want 200", code)
	}
	var list corev1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil || list.Kind != "PodList" || len(list.Items) != 2 {
		t.Errorf("pod list body: %v, %d items, kind %q", err, len(list.Items), list.Kind)
	}
	code, _, _ = rawRequest(t, w.ExecURL(), "/api/v1/namespaces/default/pods/"+envManagerPod, upgrade)
	if code != http.StatusOK {
		t.Errorf("pod get with upgrade headers: %d, want 200", code)
	}
	code, _, body = rawRequest(t, w.ExecURL(), exec, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "Upgrade request required") {
		t.Errorf("exec without upgrade headers: %d %s, want 400 Upgrade request required", code, body)
	}
	legacy := map[string]string{"Authorization": "Bearer " + w.LegacyToken()}
	for k, v := range upgrade {
		legacy[k] = v
	}
	if code, _, _ := rawRequest(t, w.ExecURL(), exec, legacy); code != http.StatusUnauthorized {
		t.Errorf("exec with the stale orchestrai-sa token: %d, want 401", code)
	}
	if code, _, _ := rawRequest(t, w.ExecURL(), "/api/v1/namespaces/default/pods/nope/exec", upgrade); code != http.StatusNotFound {
		t.Errorf("exec on a missing pod: %d, want 404", code)
	}
	// The API server is also reachable from a pod at the private endpoint.
	if body, err := getPath(t, w.DialerFrom(SourcePod), APIPrivateEndpoint+":443", "/version"); err != nil || !strings.Contains(body, Version) {
		t.Errorf("GET https://10.132.0.2/version from a pod: %q, %v", body, err)
	}
}

func getPath(t *testing.T, d interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}, addr, path string) (string, error) {
	t.Helper()
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := hc.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestStartWritesNothing(t *testing.T) {
	w := start(t, Options{})
	time.Sleep(50 * time.Millisecond) // let the controllers run their first loop
	rw := w.Kube().(interface{ Actions() []clienttesting.Action })
	for _, a := range rw.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("the world wrote at start: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	for _, r := range w.GCP().Requests() {
		t.Errorf("the world called the Google APIs at start: %s %s", r.Method, r.Path)
	}
	slices, err := w.Kube().DiscoveryV1().EndpointSlices("default").List(ctxT(t, 5*time.Second), metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=development-agent"})
	if err != nil || len(slices.Items) != 1 || len(slices.Items[0].Endpoints) != 1 || slices.Items[0].Endpoints[0].Addresses[0] != "172.16.0.12" {
		t.Fatalf("development-agent's EndpointSlice: %+v, %v", slices, err)
	}
}

func TestDeletedPodIsReplacedAndNewTokenSecretIsFilled(t *testing.T) {
	w := start(t, Options{})
	ctx := ctxT(t, 10*time.Second)
	pods := w.Kube().CoreV1().Pods("default")
	old, err := pods.Get(ctx, envManagerPod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, envManagerPod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var fresh *corev1.Pod
	eventually(t, 5*time.Second, "the ReplicaSet replaces the pod and it runs", func() error {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=environment-manager"})
		if err != nil || len(l.Items) != 1 {
			return errors.New("no replacement yet")
		}
		p := l.Items[0]
		if p.UID == old.UID || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !podReady(&p) {
			return errors.New("not running yet")
		}
		fresh = &p
		return nil
	})
	if !strings.HasPrefix(fresh.Name, "environment-manager-7c4d9e6f8-") || fresh.Spec.ServiceAccountName != ServiceAccount {
		t.Errorf("replacement pod = %s (sa %s)", fresh.Name, fresh.Spec.ServiceAccountName)
	}
	eventually(t, 5*time.Second, "the Service leads to the new pod", func() error {
		if body, err := get(t, w.DialerFrom(SourceNode), EnvManagerIP+":80"); err != nil || body != "environment-manager: ok\n" {
			return errf("%q %v", body, err)
		}
		return nil
	})

	// A new legacy token Secret for the re-created ServiceAccount: the token controller fills it in.
	secrets := w.Kube().CoreV1().Secrets("default")
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orchestrai-sa-token-new",
		Annotations: map[string]string{corev1.ServiceAccountNameKey: ServiceAccount}}, Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var tok string
	eventually(t, 5*time.Second, "the token controller fills the Secret", func() error {
		s, err := secrets.Get(ctx, "orchestrai-sa-token-new", metav1.GetOptions{})
		if err != nil || len(s.Data["token"]) == 0 {
			return errors.New("empty")
		}
		tok = string(s.Data["token"])
		return nil
	})
	r, err := w.KubeClient(true).AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
	if err != nil || !r.Status.Authenticated {
		t.Fatalf("the new Secret's token: %+v, %v", r.Status, err)
	}
}
