package sim

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	fakerest "k8s.io/client-go/rest/fake"

	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The demo world's side of workload access to the Kubernetes API (FAILURE-MODES §4 and §5): a REST
// configuration for raw HTTP to the API server's streaming endpoint (the exec server), the WebSocket
// watch that proves a path carries upgrades, the Deployment controller that rolls a changed pod
// template, and environment-manager's logs — the seed's Python client, which shares one ApiClient
// between stream() and its other calls.

var gvrDeployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// KubeREST is the REST configuration of the demo's API server for raw HTTP (the WebSocket
// handshakes): the exec server on loopback, behind the same read-only guard as production.
func (w *World) KubeREST(readOnly bool) *rest.Config {
	cfg := &rest.Config{Host: w.exec.url, Timeout: 30 * time.Second}
	kube.Guard(cfg, readOnly)
	return cfg
}

// watchUpgrade answers a WebSocket watch (GET …/pods?watch=1 with upgrade headers) as kube-apiserver
// does: 403 without an Origin header, else 101 echoing a base64 or binary subprotocol. The watch
// then sends nothing and the connection closes at the server's deadline. It reports whether it
// answered.
func (s *execServer) watchUpgrade(w http.ResponseWriter, r *http.Request, parts []string) bool {
	if r.Method != http.MethodGet || r.URL.Query().Get("watch") == "" || !headerHasToken(r.Header, "Connection", "upgrade") ||
		!strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || len(parts) < 3 || parts[0] != "api" {
		return false
	}
	if r.Header.Get("Origin") == "" {
		status(w, http.StatusForbidden, metav1.StatusReasonForbidden, "websocket: request origin not allowed by Config.IsWebSocketRequest... (no Origin header)")
		return true
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "websocket: not a valid WebSocket handshake")
		return true
	}
	chosen := ""
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); chosen == "" && (p == "base64.binary.k8s.io" || p == "binary.k8s.io") {
				chosen = p
			}
		}
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		status(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "cannot hijack the connection")
		return true
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return true
	}
	defer s.track(conn)()
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + wsAccept(key) + "\r\n"
	if chosen != "" {
		resp += "Sec-WebSocket-Protocol: " + chosen + "\r\n"
	}
	_, _ = buf.WriteString(resp + "\r\n")
	_ = buf.Flush()
	drain(buf.Reader)
	return true
}

// --- the Deployment controller ---

// deployments rolls a Deployment whose spec changed (generation > observedGeneration): a ReplicaSet
// for the new template gets the replicas, the others none; the ReplicaSet controller and the kubelet
// do the rest. Seeded Deployments are observed already, so a world nobody changes writes nothing.
func (c *workloads) deployments(ctx context.Context) {
	k := c.w.kube
	l, err := k.tracker.List(gvrDeployments, appsv1.SchemeGroupVersion.WithKind("Deployment"), "")
	if err != nil {
		return
	}
	for _, d := range l.(*appsv1.DeploymentList).Items {
		if d.Generation <= d.Status.ObservedGeneration {
			continue
		}
		tb, _ := json.Marshal(d.Spec.Template)
		hash := fmt.Sprintf("%x", hashString(string(tb)))[:10]
		rsName := d.Name + "-" + hash
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		rsl, err := k.tracker.List(gvrReplicaSets, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), d.Namespace)
		if err != nil {
			continue
		}
		found := false
		for _, rs := range rsl.(*appsv1.ReplicaSetList).Items {
			if c := metav1.GetControllerOf(&rs); c == nil || c.UID != d.UID {
				continue
			}
			want := int32(0)
			if rs.Name == rsName {
				found, want = true, replicas
			}
			if rs.Spec.Replicas == nil || *rs.Spec.Replicas != want {
				next := rs.DeepCopy()
				next.Spec.Replicas = ptr(want)
				_, _ = k.rw.AppsV1().ReplicaSets(d.Namespace).Update(ctx, next, metav1.UpdateOptions{})
			}
		}
		if !found {
			labels := map[string]string{"pod-template-hash": hash}
			for key, v := range d.Spec.Template.Labels {
				labels[key] = v
			}
			tmpl := *d.Spec.Template.DeepCopy()
			tmpl.Labels = labels
			sel := d.Spec.Selector.DeepCopy()
			if sel.MatchLabels == nil {
				sel.MatchLabels = map[string]string{}
			}
			sel.MatchLabels["pod-template-hash"] = hash
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: rsName, Namespace: d.Namespace, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
				Spec: appsv1.ReplicaSetSpec{Replicas: ptr(replicas), Selector: sel, Template: tmpl}}
			if _, err := k.rw.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
				continue
			}
		}
		next := d.DeepCopy()
		next.Status.ObservedGeneration = d.Generation
		_, _ = k.rw.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	}
}

// --- environment-manager's logs ---

// podLog is a pod's log. environment-manager runs the seed's Python client (kubernetes 29.0.0) with
// one ApiClient shared by its request threads and its exec/upload stream() calls: while its token is
// accepted, calls that overlap a stream() go out as WebSocket upgrades to plain REST paths and fail
// with "Handshake status 200 OK"; while its token is rejected every call fails with 401. Its log holds
// both periods when the ServiceAccount was re-created during the pod's life. Other pods log a start-up
// line.
func (k *kubeSide) podLog(ns, name string) (string, error) {
	p, err := getT[*corev1.Pod](k, gvrPods, ns, name)
	if err != nil {
		return "", err
	}
	if out, ok := k.w.probeLog(ns, name); ok {
		return out, nil
	}
	if p.Labels["app"] != "environment-manager" {
		return p.CreationTimestamp.UTC().Format("2006-01-02 15:04:05") + " INFO started\n", nil
	}
	return k.envManagerLog(p), nil
}

// demoClientset is the fake clientset with pods/log answered per pod (the fake's GetLogs action does
// not carry the pod's name): the request is still recorded and guarded by the fake's chain.
type demoClientset struct {
	*clientset
	k *kubeSide
}

func (c demoClientset) CoreV1() corev1client.CoreV1Interface {
	return demoCoreV1{CoreV1Interface: c.clientset.CoreV1(), k: c.k}
}

type demoCoreV1 struct {
	corev1client.CoreV1Interface
	k *kubeSide
}

func (c demoCoreV1) Pods(ns string) corev1client.PodInterface {
	return demoPods{PodInterface: c.CoreV1Interface.Pods(ns), k: c.k, ns: ns}
}

type demoPods struct {
	corev1client.PodInterface
	k  *kubeSide
	ns string
}

func (p demoPods) GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request {
	inner := p.PodInterface.GetLogs(name, opts) // recorded, and refused by the read-only guard where it must be
	if _, err := inner.DoRaw(context.Background()); err != nil {
		return inner
	}
	body, lerr := p.k.podLog(p.ns, name)
	if lerr == nil && opts != nil && opts.TailLines != nil {
		lines := strings.SplitAfter(body, "\n")
		if n := int(*opts.TailLines); n >= 0 && len(lines) > n+1 {
			body = strings.Join(lines[len(lines)-n-1:], "")
		}
	}
	c := &fakerest.RESTClient{
		Client: fakerest.CreateHTTPClient(func(*http.Request) (*http.Response, error) {
			if lerr != nil {
				return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods %q not found","reason":"NotFound","code":404}`, name)))}, nil
			}
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(body))}, nil
		}),
		NegotiatedSerializer: kscheme.Codecs.WithoutConversion(),
		GroupVersion:         corev1.SchemeGroupVersion,
		VersionedAPIPath:     fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/log", p.ns, name),
	}
	return c.Request()
}

// envManagerLog renders environment-manager's log for one pod.
func (k *kubeSide) envManagerLog(p *corev1.Pod) string {
	var b strings.Builder
	start := p.CreationTimestamp.Time
	// 1.4.3 (EnvManagerFixedImage, deployed by the world's developers) runs stream() on its own ApiClient.
	fixed := len(p.Spec.Containers) > 0 && p.Spec.Containers[0].Image == EnvManagerFixedImage
	if fixed {
		b.WriteString(start.UTC().Format("2006-01-02 15:04:05") + " INFO environment-manager 1.4.3 starting (kubernetes python client 29.0.0; stream() on a dedicated ApiClient)\n")
	} else {
		b.WriteString(start.UTC().Format("2006-01-02 15:04:05") + " INFO environment-manager 1.4.2 starting (kubernetes python client 29.0.0)\n")
	}
	sa, _ := getT[*corev1.ServiceAccount](k, gvrServiceAccounts, p.Namespace, p.Spec.ServiceAccountName)
	tokenOK := func(at time.Time) bool {
		if sa == nil {
			return false
		}
		if at.Before(sa.CreationTimestamp.Time) {
			return true // the ServiceAccount the pod's token was issued for still existed
		}
		for _, v := range p.Spec.Volumes {
			if v.Secret == nil {
				continue
			}
			sec, err := getT[*corev1.Secret](k, gvrSecrets, p.Namespace, v.Secret.SecretName)
			if err != nil || sec.Type != corev1.SecretTypeServiceAccountToken {
				continue
			}
			_, _, err = k.authenticate(string(sec.Data[corev1.ServiceAccountTokenKey]), nil)
			return err == nil
		}
		return !p.CreationTimestamp.Before(&sa.CreationTimestamp) // a projected token for the current ServiceAccount
	}
	handshake200 := "websocket._exceptions.WebSocketBadStatusException: Handshake status 200 OK\n" +
		"kubernetes.client.exceptions.ApiException: (0)\nReason: Handshake status 200 OK\n"
	unauthorized := "kubernetes.client.exceptions.ApiException: (401)\nReason: Unauthorized\n" +
		"HTTP response headers: HTTPHeaderDict({'Audit-Id': '…', 'Content-Type': 'application/json'})\n"
	// One exec/upload job every few hours of the pod's life, up to now.
	now := time.Now()
	for at := start.Add(2 * time.Hour); at.Before(now); at = at.Add(7 * time.Hour) {
		ts := at.UTC().Format("2006-01-02 15:04:05")
		b.WriteString(ts + " INFO exec job: uploading workspace to pod agent-runner\n")
		if tokenOK(at) && fixed {
			b.WriteString(ts + " INFO exec job: workspace uploaded\n")
		} else if tokenOK(at) {
			b.WriteString(ts + " ERROR read_namespaced_pod failed while a stream() was running on the shared client\n" + handshake200)
		} else {
			b.WriteString(ts + " ERROR read_namespaced_pod failed\n" + unauthorized)
		}
	}
	if now.Sub(start) < 2*time.Hour {
		// A fresh pod: its first job runs at once.
		ts := now.UTC().Format("2006-01-02 15:04:05")
		b.WriteString(ts + " INFO exec job: uploading workspace to pod agent-runner\n")
		if tokenOK(now) && fixed {
			b.WriteString(ts + " INFO exec job: workspace uploaded\n")
		} else if tokenOK(now) {
			b.WriteString(ts + " ERROR read_namespaced_pod failed while a stream() was running on the shared client\n" + handshake200)
		} else {
			b.WriteString(ts + " ERROR read_namespaced_pod failed\n" + unauthorized)
		}
	}
	return b.String()
}

// wsAccept is the Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}
