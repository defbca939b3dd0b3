package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// `gkedoctor audit sa-token-401 websocket-handshake --workload pod/NS/NAME --token-file F -o json`
// against a real kube-apiserver writes nothing: the server's own audit log shows only reads, watches
// and the review APIs (TokenReview, SubjectAccessReview) from gkedoctor — no TokenRequest, no exec.
func TestAuditTokenAndWebSocketMakeZeroWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startAPIServer(ctx, t)
	admin := srv.Clientset()
	ns := srv.NewNamespace(t)
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "orchestrai-sa"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "environment-manager", Namespace: ns},
		Spec: corev1.PodSpec{ServiceAccountName: "orchestrai-sa", Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}}}
	if _, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.ServiceAccountToken(ctx, ns, "orchestrai-sa", nil)
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	// The audit log is written before each response completes (blocking mode): what follows the
	// events so far is the run's.
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, "audit", "sa-token-401", "websocket-handshake", "--kubeconfig", srv.KubeconfigPath, "--no-gcp",
		"--workload", "pod/"+ns+"/environment-manager", "--token-file", tokFile, "-o", "json")
	if code != 0 && code != 1 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	if strings.Contains(out, tok) || strings.Contains(stderr, tok) || strings.Contains(out, tok[strings.LastIndex(tok, ".")+1:]) {
		t.Fatal("the token appears in the output")
	}
	var rep struct {
		Results []struct{ ID, Status, Cause, Summary string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("results: %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Status == "skip" || r.Status == "error" {
			t.Errorf("%s could not look: %s %s", r.ID, r.Status, r.Summary)
		}
	}

	time.Sleep(200 * time.Millisecond) // the watch's closing event
	events, seen := gkedoctorRequests(t, srv, len(before))
	reviews := map[string]bool{"tokenreviews": true, "subjectaccessreviews": true, "selfsubjectreviews": true, "selfsubjectaccessreviews": true}
	for _, e := range events {
		res, sub := "", ""
		if e.ObjectRef != nil {
			res, sub = e.ObjectRef.Resource, e.ObjectRef.Subresource
		}
		switch {
		case isRead(e):
			if sub == "exec" || sub == "attach" || sub == "portforward" {
				t.Errorf("a streaming request: %s %s", e.Verb, e.RequestURI)
			}
		case e.Verb == "create" && reviews[res] && sub == "":
		default:
			t.Errorf("a write: %s %s (%s/%s)", e.Verb, e.RequestURI, res, sub)
		}
	}
	for _, want := range []string{"create tokenreviews", "create subjectaccessreviews", "watch pods", "get pods"} {
		if seen[want] == 0 {
			t.Errorf("no %q in the audit log (the checks did not look): %v", want, seen)
		}
	}
}
