package checks

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// tokenEnv is a run against the real kube-apiserver as its admin, with --workload / --token-file.
func tokenEnv(t *testing.T, srv *testenv.APIServer, workload, tokenFile string, readOnly bool) *Env {
	t.Helper()
	cfg := srv.RESTConfig()
	cfg.UserAgent = "gkedoctor-test-token"
	c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: "default"}, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{}, c.Clientset, nil, nil, nil)
	return &Env{Targets: Targets{Workload: workload, TokenFile: tokenFile}, Inv: inv, Where: Laptop, ReadOnly: readOnly,
		Now: time.Now, FixDeps: &fixes.Deps{Kube: c.Clientset}, KubeREST: c.Config}
}

func runCheck(t *testing.T, env *Env, id string) Result {
	t.Helper()
	c, ok := Lookup(id)
	if !ok {
		t.Fatalf("%s is not registered", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return (&Engine{Timeout: 45 * time.Second}).Run(ctx, env, []Check{c}, nil)[0]
}

func resultText(r Result) string {
	var b strings.Builder
	b.WriteString(string(r.Status) + " [" + r.Cause + "] " + r.Summary)
	for _, e := range r.Evidence {
		b.WriteString("\n    - " + e.Step + " (" + string(e.Status) + "): " + strings.ReplaceAll(e.Detail, "\n", " | "))
	}
	for _, p := range r.Fixes {
		b.WriteString("\n    fix " + p.ID)
	}
	return b.String()
}

func wantCause(t *testing.T, r Result, st Status, cause string) {
	t.Helper()
	if r.Status != st || r.Cause != cause {
		t.Fatalf("want %s [%s], got %s", st, cause, resultText(r))
	}
}

func tokFix(t *testing.T, r Result, id string) *fixes.Plan {
	t.Helper()
	var ids []string
	for _, p := range r.Fixes {
		if p.ID == id {
			return p
		}
		ids = append(ids, p.ID)
	}
	t.Fatalf("no fix %s among %v\n%s", id, ids, resultText(r))
	return nil
}

func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// noTokenIn fails when a token appears anywhere in a result (summary, evidence, fixes).
func noTokenIn(t *testing.T, r Result, tok string) {
	t.Helper()
	if tok == "" {
		return
	}
	body := resultText(r)
	for _, p := range r.Fixes {
		body += p.Title + p.Description + p.Diff + strings.Join(p.Commands, "\n")
	}
	// The signature is the part that makes it a credential; any third of the token is too much.
	if i := strings.LastIndex(tok, "."); i > 0 && strings.Contains(body, tok[i+1:]) || strings.Contains(body, tok) {
		t.Fatal("the token appears in the result")
	}
}

func mkSA(t *testing.T, k kubernetes.Interface, ns, name string) *corev1.ServiceAccount {
	t.Helper()
	sa, err := k.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// legacyWorkload creates a Deployment that runs as sa and mounts the Secret secret at the token path
// with automount off (seed 000's environment-manager).
func legacyWorkload(t *testing.T, k kubernetes.Interface, ns, name, sa, secret string) {
	t.Helper()
	lab := map[string]string{"app": name}
	no := false
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: lab},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lab}, Spec: corev1.PodSpec{
				ServiceAccountName: sa, AutomountServiceAccountToken: &no,
				Containers: []corev1.Container{{Name: name, Image: "example.invalid/" + name + ":1",
					VolumeMounts: []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}}},
				Volumes: []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}}}}}
	if _, err := k.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func tokenSecretObj(ns, name, sa, uid string, lbl map[string]string) *corev1.Secret {
	ann := map[string]string{corev1.ServiceAccountNameKey: sa}
	if uid != "" {
		ann[corev1.ServiceAccountUIDKey] = uid
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann, Labels: lbl},
		Type: corev1.SecretTypeServiceAccountToken, Data: map[string][]byte{"token": []byte("not-a-real-token")}}
}

// The ServiceAccount is deleted and re-created after a TokenRequest token was minted: the API server
// says "service account UID … does not match claim", and the check names sa-recreated with the claims
// only, never the token.
func TestSAToken401_RecreatedSA_TokenRequest(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	mkSA(t, admin, ns, "orchestrai-sa")
	tok, err := srv.ServiceAccountToken(ctx, ns, "orchestrai-sa", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not used before the re-creation: the server caches a successful authentication for ~10 s.
	if err := admin.CoreV1().ServiceAccounts(ns).Delete(ctx, "orchestrai-sa", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := mkSA(t, admin, ns, "orchestrai-sa")
	r := runCheck(t, tokenEnv(t, srv, "", writeToken(t, tok), true), "sa-token-401")
	wantCause(t, r, Fail, "sa-recreated")
	if !strings.Contains(r.Summary, string(sa.UID)) || !strings.Contains(resultText(r), "does not match claim") {
		t.Fatalf("the verdict should name the new uid and quote the API server:\n%s", resultText(r))
	}
	noTokenIn(t, r, tok)
}

// A legacy token Secret issued for the old ServiceAccount (stale uid annotation), mounted by the
// workload: sa-recreated, and the fix gives the workload a new Secret; undo puts everything back.
func TestSAToken401_LegacySecretStaleUID_FixAndUndo(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	mkSA(t, admin, ns, "orchestrai-sa")
	if _, err := admin.CoreV1().Secrets(ns).Create(ctx, tokenSecretObj(ns, "orchestrai-sa-token-7xk2p", "orchestrai-sa", "6f1c2a4e-9b3d-4c8e-a1f7-2d5e8b9c0a13", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	legacyWorkload(t, admin, ns, "environment-manager", "orchestrai-sa", "orchestrai-sa-token-7xk2p")
	wl := "deploy/" + ns + "/environment-manager"

	r := runCheck(t, tokenEnv(t, srv, wl, "", true), "sa-token-401")
	wantCause(t, r, Fail, "sa-recreated")
	if strings.Contains(resultText(r), "not-a-real-token") {
		t.Fatal("Secret data in the result")
	}
	plan := tokFix(t, r, "replace-token-secret/deployment/"+ns+"/environment-manager")
	if plan.Advice || !plan.Reversible {
		t.Fatalf("plan %+v", plan)
	}
	// Read-only: refused below the UI.
	roEnv := tokenEnv(t, srv, wl, "", true)
	if _, err := (&fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: roEnv.FixDeps}).Apply(ctx, plan, nil); apierr.KindOf(err) != apierr.ReadOnly {
		t.Fatalf("apply through the read-only client: %v", err)
	}

	prev := fixes.RolloutWaitTimeout
	fixes.RolloutWaitTimeout = 500 * time.Millisecond // no controller-manager: the rollout never happens
	t.Cleanup(func() { fixes.RolloutWaitTimeout = prev })
	env := tokenEnv(t, srv, wl, "", false)
	r = runCheck(t, env, "sa-token-401")
	plan = tokFix(t, r, "replace-token-secret/deployment/"+ns+"/environment-manager")
	journal := fixes.OpenJournal(t.TempDir())
	ap := &fixes.Applier{Journal: journal, Deps: env.FixDeps}
	applied, err := ap.Apply(ctx, plan, nil)
	if err != nil && !fixes.IsWaitError(err) {
		t.Fatalf("apply: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(journal.Dir, applied.Entry.ID+".json"))
	if strings.Contains(string(b), "not-a-real-token") || strings.Contains(string(b), `"env"`) {
		t.Fatalf("the journal holds Secret data or env values:\n%s", b)
	}
	d, err := admin.AppsV1().Deployments(ns).Get(ctx, "environment-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newSecret := d.Spec.Template.Spec.Volumes[0].Secret.SecretName
	if newSecret == "orchestrai-sa-token-7xk2p" || !strings.HasPrefix(newSecret, "orchestrai-sa-token-") {
		t.Fatalf("volume points at %q", newSecret)
	}
	// The token controller (absent here) would fill in the uid; play it.
	s, err := admin.CoreV1().Secrets(ns).Get(ctx, newSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := admin.CoreV1().ServiceAccounts(ns).Get(ctx, "orchestrai-sa", metav1.GetOptions{})
	s.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
	if _, err := admin.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = runCheck(t, tokenEnv(t, srv, wl, "", false), "sa-token-401")
	if r.Status != Pass {
		t.Fatalf("after the fix: %s", resultText(r))
	}
	// Undo: the volume points back, the new Secret is gone.
	if err := ap.Undo(ctx, applied.Entry); err != nil {
		t.Fatalf("undo: %v", err)
	}
	d, _ = admin.AppsV1().Deployments(ns).Get(ctx, "environment-manager", metav1.GetOptions{})
	if got := d.Spec.Template.Spec.Volumes[0].Secret.SecretName; got != "orchestrai-sa-token-7xk2p" {
		t.Fatalf("after undo the volume points at %q", got)
	}
	if _, err := admin.CoreV1().Secrets(ns).Get(ctx, newSecret, metav1.GetOptions{}); err == nil {
		t.Fatal("after undo the new Secret still exists")
	}
}

// The legacy token cleaner's label: legacy-token-invalidated; removing it is the fix, undo puts it back.
func TestSAToken401_InvalidSinceLabel_FixAndUndo(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	sa := mkSA(t, admin, ns, "legacy-sa")
	sec := tokenSecretObj(ns, "legacy-sa-token", "legacy-sa", string(sa.UID), map[string]string{"kubernetes.io/legacy-token-invalid-since": "2025-01-02"})
	if _, err := admin.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	legacyWorkload(t, admin, ns, "reporter", "legacy-sa", "legacy-sa-token")
	wl := "deployment/" + ns + "/reporter"
	r := runCheck(t, tokenEnv(t, srv, wl, "", true), "sa-token-401")
	wantCause(t, r, Fail, "legacy-token-invalidated")

	env := tokenEnv(t, srv, wl, "", false)
	plan := tokFix(t, runCheck(t, env, "sa-token-401"), "reactivate-legacy-token/"+ns+"/legacy-sa-token")
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
	applied, err := ap.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	r = runCheck(t, tokenEnv(t, srv, wl, "", false), "sa-token-401")
	if r.Status != Pass {
		t.Fatalf("after the fix: %s", resultText(r))
	}
	if err := ap.Undo(ctx, applied.Entry); err != nil {
		t.Fatalf("undo: %v", err)
	}
	got, _ := admin.CoreV1().Secrets(ns).Get(ctx, "legacy-sa-token", metav1.GetOptions{})
	if got.Labels["kubernetes.io/legacy-token-invalid-since"] != "2025-01-02" {
		t.Fatalf("undo did not put the label back: %v", got.Labels)
	}
}

// The workload mounts a token Secret that was deleted: legacy-secret-missing, and the fix re-creates it.
func TestSAToken401_DeletedSecret(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	mkSA(t, admin, ns, "gone-sa")
	legacyWorkload(t, admin, ns, "uploader", "gone-sa", "gone-sa-token-abcde")
	r := runCheck(t, tokenEnv(t, srv, "deploy/"+ns+"/uploader", "", true), "sa-token-401")
	wantCause(t, r, Fail, "legacy-secret-missing")
	tokFix(t, r, "new-token-secret/"+ns+"/gone-sa-token-abcde")
	env := tokenEnv(t, srv, "deploy/"+ns+"/uploader", "", false)
	plan := tokFix(t, runCheck(t, env, "sa-token-401"), "new-token-secret/"+ns+"/gone-sa-token-abcde")
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
	applied, err := ap.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	s, err := admin.CoreV1().Secrets(ns).Get(ctx, "gone-sa-token-abcde", metav1.GetOptions{})
	if err != nil || s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != "gone-sa" {
		t.Fatalf("re-created Secret: %v %+v", err, s)
	}
	if err := ap.Undo(ctx, applied.Entry); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if _, err := admin.CoreV1().Secrets(ns).Get(ctx, "gone-sa-token-abcde", metav1.GetOptions{}); err == nil {
		t.Fatal("undo left the Secret")
	}
}

// A token minted for another audience: the API server rejects it and the check says wrong-audience.
func TestSAToken401_WrongAudience(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	mkSA(t, srv.Clientset(), ns, "vault-client")
	tok, err := srv.ServiceAccountToken(ctx, ns, "vault-client", []string{"vault"})
	if err != nil {
		t.Fatal(err)
	}
	r := runCheck(t, tokenEnv(t, srv, "", writeToken(t, tok), true), "sa-token-401")
	wantCause(t, r, Fail, "wrong-audience")
	if !strings.Contains(r.Summary, "vault") {
		t.Fatalf("summary: %s", r.Summary)
	}
	noTokenIn(t, r, tok)
}

// 401 vs 403: a token that authenticates for a ServiceAccount without RBAC is a 403 problem; once
// the verbs are granted (the fix), the token is fine and the client is not sending it.
func TestSAToken401_403Not401_ThenNoAuthorizationHeader(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	mkSA(t, srv.Clientset(), ns, "worker")
	tok, err := srv.ServiceAccountToken(ctx, ns, "worker", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The real server's answer to this token on a denied verb is 403, not 401.
	c, _ := srv.ClientForToken(tok)
	if _, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("list pods as the SA: %v", err)
	}
	file := writeToken(t, tok)
	r := runCheck(t, tokenEnv(t, srv, "", file, true), "sa-token-401")
	wantCause(t, r, Fail, "is-403-not-401")
	if !strings.Contains(r.Summary, "never comes from RBAC") {
		t.Fatalf("summary: %s", r.Summary)
	}
	tokFix(t, r, "grant-rbac/"+ns+"/worker")
	env := tokenEnv(t, srv, "", file, false)
	plan := tokFix(t, runCheck(t, env, "sa-token-401"), "grant-rbac/"+ns+"/worker")
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
	applied, err := ap.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	r = runCheck(t, tokenEnv(t, srv, "", file, true), "sa-token-401")
	wantCause(t, r, Fail, "no-authorization-header")
	if err := ap.Undo(ctx, applied.Entry); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if _, err := srv.Clientset().RbacV1().RoleBindings(ns).Get(ctx, "gkedoctor-worker-access", metav1.GetOptions{}); err == nil {
		t.Fatal("undo left the RoleBinding")
	}
	noTokenIn(t, r, tok)
}

// Outside read-only mode the check mints a fresh token and reviews it; in read-only mode it does not.
func TestSAToken401_LiveTokenProbeOnlyOutsideReadOnly(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	mkSA(t, srv.Clientset(), ns, "healthy")
	legacyWorkload(t, srv.Clientset(), ns, "healthy", "healthy", "missing-is-fine-here")
	ctx := context.Background()
	// A projected-token workload that is healthy.
	d, _ := srv.Clientset().AppsV1().Deployments(ns).Get(ctx, "healthy", metav1.GetOptions{})
	d.Spec.Template.Spec.Volumes, d.Spec.Template.Spec.Containers[0].VolumeMounts, d.Spec.Template.Spec.AutomountServiceAccountToken = nil, nil, nil
	if _, err := srv.Clientset().AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wl := "deploy/" + ns + "/healthy"
	r := runCheck(t, tokenEnv(t, srv, wl, "", true), "sa-token-401")
	if r.Status != Pass || !strings.Contains(resultText(r), "not minted") {
		t.Fatalf("read-only: %s", resultText(r))
	}
	r = runCheck(t, tokenEnv(t, srv, wl, "", false), "sa-token-401")
	if r.Status != Pass || !strings.Contains(resultText(r), "a token minted now authenticates") {
		t.Fatalf("read-write: %s", resultText(r))
	}
}

var _ = errors.New

// The fault matrix's gap in sa-token-401: the workload's token Secret could not be read (its uid and
// labels decide sa-recreated and legacy-token-invalidated), and the check passed without it. Now it
// is a result naming the Secret.
func TestSAToken401_UnreadableTokenSecretIsNotAPass(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	sa := mkSA(t, admin, ns, "orchestrai-sa")
	if _, err := admin.CoreV1().Secrets(ns).Create(ctx, tokenSecretObj(ns, "orchestrai-sa-token-7xk2p", "orchestrai-sa", string(sa.UID), nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	legacyWorkload(t, admin, ns, "environment-manager", "orchestrai-sa", "orchestrai-sa-token-7xk2p")
	secretPath := "/api/v1/namespaces/" + ns + "/secrets/orchestrai-sa-token-7xk2p"
	run := func(kind fakegcp.FaultKind) Result {
		return runCheck(t, faultyKube(t, srv, "deploy/"+ns+"/environment-manager", func(r *http.Request) *fakegcp.Injection {
			if kind != fakegcp.FaultNone && r.Method == "GET" && r.URL.Path == secretPath {
				return &fakegcp.Injection{Kind: kind}
			}
			return nil
		}), "sa-token-401")
	}
	if r := run(fakegcp.FaultNone); r.Status != Pass {
		t.Fatalf("baseline: %s", resultText(r))
	}
	for _, kind := range []fakegcp.FaultKind{fakegcp.Fault409, fakegcp.Fault500, fakegcp.Fault403} {
		r := run(kind)
		if r.Status == Pass || !strings.Contains(r.Summary, "orchestrai-sa-token-7xk2p") {
			t.Errorf("%s: want no pass, naming the Secret:\n%s", kind, resultText(r))
		}
	}
}
