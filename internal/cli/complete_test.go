package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// complete calls cobra's hidden __complete command as the shell scripts do and returns the
// candidates (without descriptions) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, stderr := run(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d\n%s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	directive := lines[len(lines)-1]
	if !strings.HasPrefix(directive, ":") {
		t.Fatalf("__complete %q: no directive line in %q", args, out)
	}
	var cands []string
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		cands = append(cands, name)
	}
	return cands, directive
}

const (
	dirNoFiles        = ":4"  // ShellCompDirectiveNoFileComp
	dirNoSpaceNoFiles = ":6"  // NoSpace | NoFileComp
	dirKeepOrder      = ":36" // NoFileComp | KeepOrder
)

func TestCompletionCommandExistsForEveryShell(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, stderr := run(t, "completion", sh)
		if code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, script does not call __complete (dynamic completion)\n%s", sh, code, stderr)
		}
	}
}

func TestCompleteStaticValues(t *testing.T) {
	var available []string
	for _, i := range checks.Catalogue() {
		if i.Available {
			available = append(available, i.ID)
		}
	}
	for _, cmd := range []string{"audit", "check", "fix"} {
		got, dir := complete(t, cmd, "")
		for _, id := range available {
			if !slices.Contains(got, id) {
				t.Errorf("%s: check id %s not offered (got %v)", cmd, id, got)
			}
		}
		if dir != dirNoFiles {
			t.Errorf("%s: directive %s, want %s (never file names)", cmd, dir, dirNoFiles)
		}
	}
	// An id already given is not offered again; the prefix filters.
	got, _ := complete(t, "audit", "clusterip-unreachable", "clusterip")
	if slices.Contains(got, "clusterip-unreachable") {
		t.Errorf("audit offers an id already given: %v", got)
	}
	got, _ = complete(t, "explain", "target-is")
	if !slices.Equal(got, []string{"target-is-clusterip"}) {
		t.Errorf("explain completes cause ids: got %v", got)
	}
	if got, _ := complete(t, "explain", "dns-servfail", ""); len(got) != 0 {
		t.Errorf("explain takes one id; offered a second: %v", got)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"audit", "-o", ""}, []string{"text", "json", "markdown", "junit"}},
		{[]string{"checks", "--output", ""}, []string{"text", "json", "markdown"}},
		{[]string{"check", "-o", ""}, []string{"text", "json"}},
		{[]string{"check", "--from", ""}, []string{"cloud-run", "cluster", "node"}},
		{[]string{"check", "--from", "c"}, []string{"cloud-run", "cluster"}},
		{[]string{"demo", "--world", ""}, []string{"seed", "shared-vpc"}},
		{[]string{"audit", "--workload", ""}, []string{"deploy/", "sts/", "ds/", "job/", "cronjob/", "pod/"}},
	}
	for _, c := range cases {
		got, dir := complete(t, c.args...)
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.args, got, c.want)
		}
		if dir != dirNoFiles && dir != dirNoSpaceNoFiles {
			t.Errorf("%q: directive %s offers files", c.args, dir)
		}
	}
}

func TestCompleteJournalIDs(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	j := fixes.OpenJournal(filepath.Join(state, "gkedoctor", "journal"))
	now := time.Now()
	for _, e := range []*fixes.Entry{
		{ID: "20260101-0001-aaaa", FixID: "create-internal-lb/default/api", Check: "clusterip-unreachable", Title: "Expose default/api", State: fixes.StateApplied, CreatedAt: now.Add(-time.Hour)},
		{ID: "20260101-0002-bbbb", FixID: "dns-owned-zone/api", Check: "dns-servfail", Title: "Owned zone", State: fixes.StateFailed, CreatedAt: now},
		{ID: "20260101-0003-cccc", FixID: "old-fix/x", Check: "dns-servfail", Title: "Undone already", State: fixes.StateUndone, CreatedAt: now.Add(-2 * time.Hour)},
	} {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	got, dir := complete(t, "undo", "")
	if want := []string{"20260101-0002-bbbb", "20260101-0001-aaaa"}; !slices.Equal(got, want) {
		t.Errorf("undo: got %v, want the entries that can be undone, newest first %v", got, want)
	}
	if dir != dirKeepOrder {
		t.Errorf("undo: directive %s, want %s", dir, dirKeepOrder)
	}
	if got, _ := complete(t, "undo", "20260101-0002-bbbb", ""); len(got) != 0 {
		t.Errorf("undo takes one id; offered %v", got)
	}
	got, _ = complete(t, "fix", "create-internal")
	if !slices.Equal(got, []string{"create-internal-lb/default/api"}) {
		t.Errorf("fix: journal fix ids not offered: %v", got)
	}
	// The demo world's journal is another directory: nothing of the above is offered with --demo.
	if got, _ := complete(t, "undo", "--demo", ""); len(got) != 0 {
		t.Errorf("undo --demo offers the real journal's entries: %v", got)
	}
}

func TestCompleteContextsFromKubeconfig(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts:
- {name: gke_dev-orchestra_europe-west1_dev, context: {cluster: c, user: u}}
- {name: gke_prod_europe-west1_prod, context: {cluster: c, user: u}}
- {name: kind-local, context: {cluster: c, user: u}}
current-context: kind-local
`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, dir := complete(t, "audit", "--kubeconfig", kc, "--context", "gke_")
	if want := []string{"gke_dev-orchestra_europe-west1_dev", "gke_prod_europe-west1_prod"}; !slices.Equal(got, want) || dir != dirNoFiles {
		t.Errorf("--context: got %v %s, want %v %s", got, dir, want, dirNoFiles)
	}
}

// TestCompleteFromTheCluster completes namespaces, NS/NAME Services and KIND/NS/NAME workloads from
// a real kube-apiserver, through the read-only guard.
func TestCompleteFromTheCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startAPIServer(ctx, t)
	admin := srv.Clientset()
	ns := srv.NewNamespace(t)
	mk := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	port := []corev1.ServicePort{{Port: 80}}
	for _, name := range []string{"development-agent", "orchestrator"} {
		_, err := admin.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Ports: port}}, metav1.CreateOptions{})
		mk(err)
	}
	lab := map[string]string{"app": "agent"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lab}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	_, err := admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "environment-manager"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: lab}, Template: tmpl}}, metav1.CreateOptions{})
	mk(err)
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	_, err = admin.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}, metav1.CreateOptions{})
	mk(err)
	kc := []string{"--kubeconfig", srv.KubeconfigPath}
	before, err := srv.AuditEvents()
	mk(err)
	since := len(before)

	got, dir := complete(t, append(kc, "audit", "-n", ns[:len(ns)-1])...)
	if !slices.Contains(got, ns) || dir != dirNoFiles {
		t.Errorf("-n: got %v %s, want %s among them", got, dir, ns)
	}
	got, dir = complete(t, append(kc, "audit", "--service", ns[:len(ns)-1])...)
	if !slices.Contains(got, ns+"/") || dir != dirNoSpaceNoFiles {
		t.Errorf("--service NS: got %v %s, want %s/ and no space after it", got, dir, ns)
	}
	got, dir = complete(t, append(kc, "audit", "--service", ns+"/")...)
	if want := []string{ns + "/development-agent", ns + "/orchestrator"}; !slices.Equal(got, want) || dir != dirNoFiles {
		t.Errorf("--service NS/: got %v %s, want %v", got, dir, want)
	}
	got, _ = complete(t, append(kc, "audit", "--service", ns+"/orch")...)
	if !slices.Equal(got, []string{ns + "/orchestrator"}) {
		t.Errorf("--service NS/PREFIX: got %v", got)
	}
	got, dir = complete(t, append(kc, "fix", "--workload", "deploy/"+ns[:len(ns)-1])...)
	if !slices.Contains(got, "deploy/"+ns+"/") || dir != dirNoSpaceNoFiles {
		t.Errorf("--workload KIND/NS: got %v %s", got, dir)
	}
	got, _ = complete(t, append(kc, "fix", "--workload", "deploy/"+ns+"/")...)
	if !slices.Equal(got, []string{"deploy/" + ns + "/environment-manager"}) {
		t.Errorf("--workload deploy/NS/: got %v", got)
	}
	got, _ = complete(t, append(kc, "fix", "--workload", "cronjob/"+ns+"/")...)
	if !slices.Equal(got, []string{"cronjob/" + ns + "/nightly"}) {
		t.Errorf("--workload cronjob/NS/: got %v", got)
	}
	if got, _ := complete(t, append(kc, "fix", "--workload", "nosuchkind/"+ns+"/")...); len(got) != 0 {
		t.Errorf("an unknown kind completes to %v", got)
	}
	// Completion only reads.
	reqs, _ := gkedoctorRequests(t, srv, since)
	if len(reqs) == 0 {
		t.Fatal("no request reached the API server: the completions above did not come from the cluster")
	}
	for _, e := range reqs {
		if !isRead(e) {
			t.Errorf("completion made a %s request to %s", e.Verb, e.RequestURI)
		}
	}
}

// TestCompleteNeverBlocksTheShell: an API server that accepts the connection and never answers costs
// one completion at most completionTimeout, and gives no candidates (and no file names).
func TestCompleteNeverBlocksTheShell(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	kc := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://`+l.Addr().String()+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { completionTimeout = d }(completionTimeout)
	completionTimeout = 300 * time.Millisecond
	for _, args := range [][]string{{"-n", ""}, {"--service", "default/"}, {"--workload", "deploy/default/"}} {
		start := time.Now()
		got, dir := complete(t, append([]string{"--kubeconfig", kc, "audit"}, args...)...)
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("%q took %v with a %v completion deadline", args, el, completionTimeout)
		}
		if len(got) != 0 || (dir != dirNoFiles && dir != dirNoSpaceNoFiles) {
			t.Errorf("%q: got %v %s from a server that never answered", args, got, dir)
		}
	}
}
