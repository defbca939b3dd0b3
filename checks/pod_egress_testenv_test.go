package checks

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// ip-masq-agent against the real kube-apiserver (its DaemonSet and ConfigMap in kube-system), with
// the Google side of seed 004 from the fake server: what the agent's configuration makes of the
// source of a pod's packets, and fix A writing, and undo restoring, the ConfigMap. The subtests share
// kube-system/ip-masq-agent, so they run in order and each sets it up itself.

type masqBed struct {
	t     *testing.T
	srv   *testenv.APIServer
	admin kubernetes.Interface
	fake  *fakegcp.Server
}

func newMasqBed(t *testing.T) *masqBed {
	t.Helper()
	srv := testenv.Shared(t)
	b := &masqBed{t: t, srv: srv, admin: srv.Clientset(), fake: fakegcp.New()}
	t.Cleanup(b.fake.Close)
	seedEgressGCP(b.fake, egressOpts{})
	t.Cleanup(func() { b.set(false, nil) })
	return b
}

func (b *masqBed) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	b.t.Cleanup(cancel)
	return ctx
}

// set puts the DaemonSet (or not) and the ConfigMap (nil: none) in place.
func (b *masqBed) set(daemonSet bool, cm *corev1.ConfigMap) {
	b.t.Helper()
	ctx := b.ctx()
	ds := b.admin.AppsV1().DaemonSets("kube-system")
	cms := b.admin.CoreV1().ConfigMaps("kube-system")
	if err := ds.Delete(ctx, "ip-masq-agent", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		b.t.Fatal(err)
	}
	if err := cms.Delete(ctx, "ip-masq-agent", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		b.t.Fatal(err)
	}
	if daemonSet {
		if _, err := ds.Create(ctx, ipMasqDaemonSet(), metav1.CreateOptions{}); err != nil {
			b.t.Fatal(err)
		}
	}
	if cm != nil {
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.t.Fatal(err)
		}
	}
}

func masqCM(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ip-masq-agent", Namespace: "kube-system"}, Data: data}
}

// env is a run as the server's admin (read-only for the check, writable for fixes).
func (b *masqBed) env(readOnly bool) *Env {
	b.t.Helper()
	cfg := b.srv.RESTConfig()
	cfg.UserAgent = "gkedoctor-test-egress"
	c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: "default"}, readOnly)
	if err != nil {
		b.t.Fatal(err)
	}
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: b.fake.URL, ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		b.t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{Project: wProject, Location: wRegion, Cluster: wCluster}, c.Clientset, nil, g, nil)
	return &Env{Target: Target{Project: wProject, Location: wRegion, Cluster: wCluster}, Inv: inv, Where: Laptop, ReadOnly: readOnly,
		Now: time.Now, FixDeps: &fixes.Deps{Kube: c.Clientset, GCP: g}}
}

func (b *masqBed) run() Result { return runCheck(b.t, b.env(true), "pod-egress-cross-project") }

// plannedConfig is the config fix A writes, as its command shows it.
func plannedConfig(t *testing.T, p *fixes.Plan) string {
	t.Helper()
	c := p.Commands[0]
	start := strings.Index(c, "<<'EOF'\n")
	if start < 0 || !strings.HasSuffix(c, "EOF") {
		t.Fatalf("fix A's first command is not the config heredoc: %q", c)
	}
	return strings.TrimSuffix(c[start+len("<<'EOF'\n"):], "EOF")
}

func TestPodEgressIPMasqAgent(t *testing.T) {
	b := newMasqBed(t)
	t.Run("no_configmap_defaults_keep_the_pod_ip", func(t *testing.T) {
		b.set(true, nil)
		r := b.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
		if !egressEvidence(r, "no ConfigMap kube-system/ip-masq-agent") || !hasFix(r, fixes.IPMasqPlanID) {
			t.Fatalf("%s", resultText(r))
		}
	})
	t.Run("custom_list_covering_the_peer", func(t *testing.T) {
		b.set(true, masqCM(map[string]string{"config": "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n  - 10.0.0.0/8\nresyncInterval: 60s\n"}))
		r := b.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
		if !egressEvidence(r, "the ip-masq-agent ConfigMap's nonMasqueradeCIDRs") {
			t.Fatalf("%s", resultText(r))
		}
	})
	t.Run("custom_list_not_covering_the_peer", func(t *testing.T) {
		b.set(true, masqCM(map[string]string{"config": "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n  - 10.132.0.0/20\n  - 34.118.224.0/20\nmasqLinkLocal: false\n"}))
		r := b.run()
		if r.Status != Pass || !strings.Contains(r.Summary, "leaves with the node IP (10.132.0.0/20)") {
			t.Fatalf("%s", resultText(r))
		}
	})
	t.Run("malformed_yaml", func(t *testing.T) {
		b.set(true, masqCM(map[string]string{"config": "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n  - 10.2.0.0/33\n"}))
		r := b.run()
		wantCause(t, r, Fail, "pod-ip-kept-by-ip-masq-agent")
		if !strings.Contains(r.Summary, `line 3: CIDR "10.2.0.0/33" could not be parsed`) {
			t.Fatalf("the summary does not carry the parse error and its line: %s", r.Summary)
		}
		// Fix A replaces the broken configuration with one built on the defaults.
		if p := planByID(t, r, fixes.IPMasqPlanID); !strings.Contains(plannedConfig(t, p), "10.3.0.0/16") {
			t.Errorf("fix A: %s", plannedConfig(t, p))
		}
	})
	t.Run("syntax_error", func(t *testing.T) {
		b.set(true, masqCM(map[string]string{"config": "resyncInterval: 60s\nnonMasqueradeCIDRs: 10.0.0.0/8: x\n"}))
		r := b.run()
		wantCause(t, r, Fail, "pod-ip-kept-by-ip-masq-agent")
		if !strings.Contains(r.Summary, "line 2:") {
			t.Fatalf("%s", r.Summary)
		}
	})
	t.Run("configmap_without_the_config_key", func(t *testing.T) {
		b.set(true, masqCM(map[string]string{"ip-masq-agent.yaml": "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n"}))
		r := b.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
		if !egressEvidence(r, `has no "config" key`) {
			t.Fatalf("%s", resultText(r))
		}
	})
	t.Run("daemonset_absent_no_fix_that_cannot_work", func(t *testing.T) {
		b.set(false, nil)
		r := b.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
		if hasFix(r, fixes.IPMasqPlanID) || !hasFix(r, "deploy-ip-masq-agent/"+wCluster) {
			t.Fatalf("without the DaemonSet a ConfigMap does nothing, so fix A must not be offered: %v", fixIDs(r))
		}
		if p := planByID(t, r, "deploy-ip-masq-agent/"+wCluster); !p.Advice || !strings.Contains(p.Description, "would change nothing") {
			t.Errorf("%+v", p)
		}
	})
	t.Run("fix_a_creates_then_undo_deletes", func(t *testing.T) {
		b.set(true, nil)
		env := b.env(false)
		p := planByID(t, runCheck(t, env, "pod-egress-cross-project"), fixes.IPMasqPlanID)
		want := plannedConfig(t, p)
		ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
		res, err := ap.Apply(b.ctx(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := b.admin.CoreV1().ConfigMaps("kube-system").Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{})
		if err != nil || len(cm.Data) != 1 || cm.Data["config"] != want {
			t.Fatalf("the ConfigMap is not exactly the planned one: %+v, %v\nwant config:\n%s", cm.Data, err, want)
		}
		if r := b.run(); r.Status != Pass {
			t.Fatalf("after fix A: %s", resultText(r))
		}
		if err := ap.Undo(b.ctx(), res.Entry); err != nil {
			t.Fatal(err)
		}
		if _, err := b.admin.CoreV1().ConfigMaps("kube-system").Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("undo left the ConfigMap: %v", err)
		}
	})
	t.Run("fix_a_replaces_then_undo_restores_byte_for_byte", func(t *testing.T) {
		prior := masqCM(map[string]string{
			"config":             "# ours\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8   # everything internal\n  - 172.16.0.0/12\nresyncInterval: 30s\n",
			"ip-masq-agent.yaml": "nonMasqueradeCIDRs: []\n",
		})
		prior.Labels = map[string]string{"team": "net"}
		prior.Annotations = map[string]string{"note": "hand-made, keep"}
		b.set(true, prior)
		env := b.env(false)
		p := planByID(t, runCheck(t, env, "pod-egress-cross-project"), fixes.IPMasqPlanID)
		want := plannedConfig(t, p)
		if !strings.Contains(want, "resyncInterval: 30s") {
			t.Errorf("fix A should keep the resync interval: %s", want)
		}
		ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
		res, err := ap.Apply(b.ctx(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := b.admin.CoreV1().ConfigMaps("kube-system").Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{})
		if err != nil || cm.Data["config"] != want || cm.Data["ip-masq-agent.yaml"] != prior.Data["ip-masq-agent.yaml"] || cm.Labels["team"] != "net" {
			t.Fatalf("after fix A: %+v, %v", cm, err)
		}
		if len(res.Entry.Prior) != 1 || !strings.Contains(string(res.Entry.Prior[0].Contents), `everything internal`) {
			t.Fatalf("the prior ConfigMap is not in the journal: %+v", res.Entry.Prior)
		}
		if err := ap.Undo(b.ctx(), res.Entry); err != nil {
			t.Fatal(err)
		}
		back, err := b.admin.CoreV1().ConfigMaps("kube-system").Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{})
		if err != nil || !reflect.DeepEqual(back.Data, prior.Data) || !reflect.DeepEqual(back.Labels, prior.Labels) || !reflect.DeepEqual(back.Annotations, prior.Annotations) {
			t.Fatalf("undo did not restore the ConfigMap as it was: %+v, %v", back, err)
		}
	})
	t.Run("undo_refuses_to_overwrite_a_later_change", func(t *testing.T) {
		b.set(true, nil)
		env := b.env(false)
		p := planByID(t, runCheck(t, env, "pod-egress-cross-project"), fixes.IPMasqPlanID)
		ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
		res, err := ap.Apply(b.ctx(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		cms := b.admin.CoreV1().ConfigMaps("kube-system")
		cm, _ := cms.Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{})
		cm.Data["config"] += "# edited by someone\n"
		if _, err := cms.Update(b.ctx(), cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := ap.Undo(b.ctx(), res.Entry); err == nil || !strings.Contains(err.Error(), "changed since") {
			t.Fatalf("undo should refuse: %v", err)
		}
		if got, _ := cms.Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{}); !strings.Contains(got.Data["config"], "edited by someone") {
			t.Fatal("undo overwrote a later change")
		}
	})
	t.Run("fix_a_stops_when_the_configmap_changed_since_the_check", func(t *testing.T) {
		b.set(true, masqCM(map[string]string{"config": "nonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n"}))
		env := b.env(false)
		p := planByID(t, runCheck(t, env, "pod-egress-cross-project"), fixes.IPMasqPlanID)
		cms := b.admin.CoreV1().ConfigMaps("kube-system")
		cm, _ := cms.Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{})
		cm.Data["config"] = "nonMasqueradeCIDRs: [10.0.0.0/8]\n"
		if _, err := cms.Update(b.ctx(), cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
		_, err := ap.Apply(b.ctx(), p, nil)
		if apierr.KindOf(err) != apierr.Conflict && !strings.Contains(errString(err), "changed since") {
			t.Fatalf("want a stop, got %v", err)
		}
		if got, _ := cms.Get(b.ctx(), "ip-masq-agent", metav1.GetOptions{}); got.Data["config"] != "nonMasqueradeCIDRs: [10.0.0.0/8]\n" {
			t.Fatalf("the fix wrote over a concurrent change: %q", got.Data["config"])
		}
	})
}
