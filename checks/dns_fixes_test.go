package checks

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	container "google.golang.org/api/container/v1"
	clouddns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
)

func (w *dnsWorld) applier(dir string) *fixes.Applier {
	return &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: &fixes.Deps{Kube: w.kube, GCP: w.g},
		Target: fixes.Target{Project: dwProject, Location: dwRegion, Cluster: dwCluster}}
}

func (w *dnsWorld) apply(a *fixes.Applier, p *fixes.Plan) *fixes.Applied {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := a.Apply(ctx, p, nil)
	if err != nil {
		w.t.Fatalf("apply %s: %v", p.ID, err)
	}
	return res
}

// undoFromDisk undoes a journal entry the way `gkedoctor undo ID` does in a new process: the entry
// is read back from the directory and its undo actions run with fresh clients.
func (w *dnsWorld) undoFromDisk(dir, id string) {
	w.t.Helper()
	e, err := fixes.OpenJournal(dir).Get(id)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.applier(dir).Undo(ctx, e); err != nil {
		w.t.Fatalf("undo %s (%s): %v", id, e.FixID, err)
	}
}

func (w *dnsWorld) zoneNames() []string {
	var out []string
	for _, z := range w.fake.ManagedZones(dwProject) {
		out = append(out, z.Name)
	}
	return out
}

func (w *dnsWorld) records(zone string) map[string]*clouddns.ResourceRecordSet {
	out := map[string]*clouddns.ResourceRecordSet{}
	for _, rr := range w.fake.RRSets(dwProject, zone) {
		out[rr.Name+" "+rr.Type] = rr
	}
	return out
}

func (w *dnsWorld) envValue(name string) string {
	svc, ok := w.fake.RunService(dwProject, dwRegion, dwRun)
	if !ok {
		w.t.Fatal("the Cloud Run service is gone")
	}
	for _, c := range svc.Template.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

// The seed's state and the robust fix: the owned zone (exactly one new zone, one A record per
// Service to its internal LB), the client pointed at it, both checks passing; undo removes it all.
func TestDNSOwnedZoneFixAndUndo(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE"}
	w.addForwardingZone(dwKubeDNSIP)
	w.addGKEZone(false, map[string]string{w.devName(): w.clusterIP()})
	w.addILB(dwILBIP)
	w.seedGCP("")
	oldURL := "http://" + strings.TrimSuffix(w.devName(), ".") + ":80"
	newURL := "http://development-agent." + w.ns + ".gkedoctor.internal:80"

	res := w.run("dns-servfail")
	if res.Status != Fail || res.Cause != "forwarding-to-clusterip" {
		t.Fatalf("precondition%s", dnsDump(res))
	}
	zp := fixByID(res, fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName))
	ep := fixByID(res, fixes.ClientEnvPlanID(dwRun))
	dp := fixByID(res, "delete-forwarding-zone/"+dwFwdZone)
	if zp == nil || ep == nil || dp == nil {
		t.Fatalf("fixes offered: %v", dnsFixIDs(res))
	}
	if zp.Destructive || zp.Alternative || zp.Advice || !zp.Reversible || zp.NeedsConfirmation() {
		t.Errorf("owned zone plan flags: %+v", zp)
	}
	if !ep.Alternative || !dp.Alternative || !dp.Destructive || !dp.VPCWide || !dp.NeedsConfirmation() || dp.Affects == "" {
		t.Errorf("alternatives' flags: env %+v, delete %+v", ep, dp)
	}
	for _, want := range []string{"+ managedZone gkedoctor-internal: dnsName gkedoctor.internal., visibility private, networks [default]",
		"+ development-agent." + w.ns + ".gkedoctor.internal. 60 IN A 10.132.0.6"} {
		if !strings.Contains(zp.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, zp.Diff)
		}
	}
	cmds := strings.Join(zp.Commands, "\n")
	for _, want := range []string{"gcloud dns managed-zones create gkedoctor-internal", "--visibility private", "--labels managed-by=gkedoctor",
		"gcloud dns record-sets create development-agent." + w.ns + ".gkedoctor.internal. --project dev-orchestra --zone gkedoctor-internal --type A --ttl 60 --rrdatas 10.132.0.6",
		"gcloud run services update gke-connectivity-tester4 --region europe-west1 --update-env-vars DEV_AGENT_URL=" + newURL} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands lack %q:\n%s", want, cmds)
		}
	}

	dir := t.TempDir()
	a := w.applier(dir)
	zonesBefore := w.zoneNames()
	mutBefore := len(w.dnsMutations())
	applied := w.apply(a, zp)
	if !strings.Contains(applied.Message, "DEV_AGENT_URL="+newURL) {
		t.Errorf("the new URL is not printed: %s", applied.Message)
	}
	if got := w.zoneNames(); len(got) != len(zonesBefore)+1 {
		t.Fatalf("zones %v → %v: want exactly one more", zonesBefore, got)
	}
	z := w.fake.ManagedZones(dwProject)
	var owned *clouddns.ManagedZone
	for _, x := range z {
		if x.Name == fixes.DefaultOwnedZoneName {
			owned = x
		}
	}
	if owned == nil || owned.Visibility != "private" || owned.DnsName != "gkedoctor.internal." || owned.Labels["managed-by"] != "gkedoctor" ||
		!dnsmodel.VisibleTo(owned, "default", dwProject) {
		t.Fatalf("owned zone: %+v", owned)
	}
	recs := w.records(fixes.DefaultOwnedZoneName)
	a1 := recs[w.ownedName()+" A"]
	if len(recs) != 3 || a1 == nil || a1.Ttl != 60 || strings.Join(a1.Rrdatas, ",") != dwILBIP {
		t.Fatalf("records of the owned zone: %v", recs)
	}
	muts := w.dnsMutations()[mutBefore:]
	if len(muts) != 2 || !strings.HasPrefix(muts[0], "POST ") || !strings.HasSuffix(muts[0], "/managedZones") || !strings.HasSuffix(muts[1], "/gkedoctor-internal/rrsets") {
		t.Fatalf("mutations: %v", muts)
	}
	// The record is right, but the client still asks cluster.local: point it at the new name.
	w.apply(a, ep)
	if got := w.envValue("DEV_AGENT_URL"); got != newURL {
		t.Fatalf("DEV_AGENT_URL = %q, want %q", got, newURL)
	}
	if got := w.envValue("LOG_LEVEL"); got != "debug" {
		t.Fatalf("an unrelated variable changed: LOG_LEVEL = %q", got)
	}
	// Both DNS checks offer it: a second application rolls no new revision and has nothing to undo.
	svc, _ := w.fake.RunService(dwProject, dwRegion, dwRun)
	if again := w.apply(a, ep); !strings.Contains(again.Message, "nothing changed") || len(again.Entry.Undo) != 0 {
		t.Fatalf("second env apply: %s, undo %v", again.Message, again.Entry.Undo)
	}
	if svc2, _ := w.fake.RunService(dwProject, dwRegion, dwRun); svc2.LatestCreatedRevision != svc.LatestCreatedRevision {
		t.Fatalf("a second revision was rolled: %s → %s", svc.LatestCreatedRevision, svc2.LatestCreatedRevision)
	}
	for _, id := range []string{"dns-servfail", "dns-stale-record"} {
		if r := w.run(id); r.Status != Pass {
			t.Fatalf("%s after the fixes%s", id, dnsDump(r))
		}
	}
	// Applying the owned-zone plan again (dns-stale-record offers it too) changes nothing.
	mut := len(w.dnsMutations())
	if again := w.apply(a, zp); !strings.Contains(again.Message, "already existed") || len(w.dnsMutations()) != mut {
		t.Fatalf("second apply: %s; mutations %v", again.Message, w.dnsMutations()[mut:])
	}
	// Undo, newest first, from the journal on disk.
	entries, err := fixes.OpenJournal(dir).List()
	if err != nil || len(entries) != 4 {
		t.Fatalf("journal: %v %v", entries, err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if len(entries[i].Undo) > 0 {
			w.undoFromDisk(dir, entries[i].ID)
		}
	}
	if got := w.zoneNames(); strings.Join(got, ",") != strings.Join(zonesBefore, ",") {
		t.Fatalf("after undo zones %v, want %v", got, zonesBefore)
	}
	if got := w.envValue("DEV_AGENT_URL"); got != oldURL {
		t.Fatalf("after undo DEV_AGENT_URL = %q, want %q", got, oldURL)
	}
	for _, m := range w.dnsMutations() {
		if strings.Contains(m, dwGKEZone) || strings.Contains(m, dwFwdZone) {
			t.Errorf("wrote to a zone that is not gkedoctor's: %s", m)
		}
	}
	if r := w.run("dns-servfail"); r.Status != Fail || r.Cause != "forwarding-to-clusterip" {
		t.Fatalf("after undo%s", dnsDump(r))
	}
}

// Offered before the internal LB exists, the plan reads the LB's IP when applied: it stops, writing
// nothing, while there is none, and works once the reachability fix has made it.
func TestDNSOwnedZoneWaitsForTheILB(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.addForwardingZone(dwKubeDNSIP)
	w.seedGCP("")
	res := w.run("dns-servfail")
	zp := fixByID(res, fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName))
	if zp == nil || !strings.Contains(zp.Diff, "<internal LB IP of "+w.ns+"/development-agent-ilb, read when applied>") {
		t.Fatalf("plan: %v%s", zp, dnsDump(res))
	}
	dir := t.TempDir()
	_, err := w.applier(dir).Apply(context.Background(), zp, nil)
	if err == nil || !strings.Contains(err.Error(), "apply the clusterip-unreachable fix first") {
		t.Fatalf("apply without an ILB: %v", err)
	}
	if m := w.dnsMutations(); len(m) != 0 {
		t.Fatalf("wrote despite the missing ILB: %v", m)
	}
	w.addILB(dwILBIP)
	w.apply(w.applier(dir), zp)
	if rr := w.records(fixes.DefaultOwnedZoneName)[w.ownedName()+" A"]; rr == nil || rr.Rrdatas[0] != dwILBIP {
		t.Fatalf("record: %v", rr)
	}
}

// GKE's zones are refused by the code that writes, whatever the caller asks: patch, create, delete,
// a plan made for one, and an undo action pointing at one. Nothing reaches the API.
func TestDNSWritesToGKEManagedZonesAreRefused(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE"}
	w.addILB(dwILBIP)
	w.addGKEZone(true, map[string]string{w.devName(): w.clusterIP()})
	// A zone recognised by its domain only (no GKE name, description or binding).
	w.fake.AddManagedZone(dwProject, dwZone("svc-records", "svc.cluster.local.", dwNetURL))
	w.addRecords("svc-records", map[string]string{w.devName(): w.clusterIP()})
	// A forwarding zone named as GKE names its zones.
	gkeNamedFwd := dwZone("gke-other-cluster-0a1b2c3d-dns", "other.local.", dwNetURL)
	gkeNamedFwd.ForwardingConfig = &clouddns.ManagedZoneForwardingConfig{TargetNameServers: []*clouddns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: "10.0.0.1"}}}
	w.fake.AddManagedZone(dwProject, gkeNamedFwd)
	w.seedGCP("")
	ctx := w.ctx()
	dw := &fixes.DNSWriter{G: w.g, Project: dwProject}
	cur := w.records(dwGKEZone)[w.devName()+" A"]
	patched := &clouddns.ResourceRecordSet{Name: w.devName(), Type: "A", Ttl: 30, Rrdatas: []string{dwILBIP}}
	for _, zone := range []string{dwGKEZone, "svc-records"} {
		if _, err := dw.PatchRecord(ctx, zone, patched, cur); !fixes.IsZoneRefused(err) {
			t.Errorf("patch in %s: %v", zone, err)
		}
		if _, err := dw.CreateRecord(ctx, zone, &clouddns.ResourceRecordSet{Name: "x." + w.ns + ".svc.cluster.local.", Type: "A", Ttl: 60, Rrdatas: []string{dwILBIP}}); !fixes.IsZoneRefused(err) {
			t.Errorf("create in %s: %v", zone, err)
		}
		if err := dw.DeleteRecord(ctx, zone, cur); !fixes.IsZoneRefused(err) {
			t.Errorf("delete record in %s: %v", zone, err)
		}
		if err := dw.DeleteZone(ctx, zone, nil); !fixes.IsZoneRefused(err) {
			t.Errorf("delete %s: %v", zone, err)
		}
	}
	if err := dw.DeleteZone(ctx, gkeNamedFwd.Name, nil); !fixes.IsZoneRefused(err) {
		t.Errorf("delete GKE-named forwarding zone: %v", err)
	}
	if _, err := dw.CreateZone(ctx, dwZone("mine", "cluster.local.", dwNetURL)); !fixes.IsZoneRefused(err) {
		t.Errorf("create a zone for cluster.local.: %v", err)
	}
	// A plan aimed at GKE's zone (no check makes one; the code refuses it anyway).
	dir := t.TempDir()
	plan := fixes.NewUpdateRecordPlan(fixes.UpdateRecordParams{Project: dwProject, Zone: dwGKEZone, Record: cur, NewIP: dwILBIP,
		Service: w.ns + "/development-agent-ilb", Deps: &fixes.Deps{GCP: w.g}})
	if _, err := w.applier(dir).Apply(ctx, plan, nil); !fixes.IsZoneRefused(err) {
		t.Errorf("plan on GKE's zone: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 0 {
		t.Errorf("a refused plan left journal entries: %v", files)
	}
	// An undo action pointing at GKE's zone (a tampered journal) is refused too.
	raw, _ := json.Marshal(map[string]any{"project": dwProject, "zone": dwGKEZone, "record": patched, "prior": cur})
	ap := w.applier(t.TempDir())
	e := &fixes.Entry{ID: "20260101T000000Z-abcdef", FixID: "x", State: fixes.StateApplied, Target: ap.Target,
		Undo: []fixes.UndoAction{{Type: fixes.UndoRestoreRecord, Params: raw}}}
	if err := ap.Undo(ctx, e); !fixes.IsZoneRefused(err) {
		t.Errorf("undo aimed at GKE's zone: %v", err)
	}
	if m := w.dnsMutations(); len(m) != 0 {
		t.Fatalf("requests reached the API: %v", m)
	}
	if rr := w.records(dwGKEZone)[w.devName()+" A"]; rr.Rrdatas[0] != w.clusterIP() {
		t.Fatalf("GKE's record changed: %v", rr.Rrdatas)
	}
}

// The destructive fix: a forwarding zone to the kube-dns ClusterIP, deleted with its JSON journaled,
// re-created by undo; a zone that changed since the check is not deleted.
func TestDNSDeleteForwardingZoneAndUndo(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.addForwardingZone(dwKubeDNSIP)
	w.seedGCP("")
	dp := fixByID(w.run("dns-servfail"), "delete-forwarding-zone/"+dwFwdZone)
	if dp == nil {
		t.Fatal("no delete plan")
	}
	dir := t.TempDir()
	applied := w.apply(w.applier(dir), dp)
	for _, n := range w.zoneNames() {
		if n == dwFwdZone {
			t.Fatal("the zone is still there")
		}
	}
	var saved clouddns.ManagedZone
	if len(applied.Entry.Prior) != 1 || json.Unmarshal(applied.Entry.Prior[0].Contents, &saved) != nil ||
		saved.ForwardingConfig == nil || saved.ForwardingConfig.TargetNameServers[0].Ipv4Address != dwKubeDNSIP || saved.DnsName != "cluster.local." {
		t.Fatalf("journaled zone: %+v", applied.Entry.Prior)
	}
	b, _ := os.ReadFile(filepath.Join(dir, applied.Entry.ID+".json"))
	if !strings.Contains(string(b), `"ipv4Address": "34.118.224.10"`) && !strings.Contains(string(b), `"ipv4Address":"34.118.224.10"`) {
		t.Errorf("the journal file lacks the zone JSON:\n%s", b)
	}
	if r := w.run("dns-servfail"); r.Cause == "forwarding-to-clusterip" {
		t.Fatalf("still the forwarding zone%s", dnsDump(r))
	}
	w.undoFromDisk(dir, applied.Entry.ID)
	var back *clouddns.ManagedZone
	for _, z := range w.fake.ManagedZones(dwProject) {
		if z.Name == dwFwdZone {
			back = z
		}
	}
	if back == nil || back.DnsName != "cluster.local." || dnsmodel.KindOf(back) != dnsmodel.KindForwarding ||
		back.ForwardingConfig.TargetNameServers[0].Ipv4Address != dwKubeDNSIP || !dnsmodel.VisibleTo(back, "default", dwProject) {
		t.Fatalf("re-created zone: %+v", back)
	}
	if r := w.run("dns-servfail"); r.Cause != "forwarding-to-clusterip" {
		t.Fatalf("after undo%s", dnsDump(r))
	}
	// The zone changes between the check and the fix: refused as a conflict, nothing deleted.
	dp = fixByID(w.run("dns-servfail"), "delete-forwarding-zone/"+dwFwdZone)
	changed := dwZone(dwFwdZone, "cluster.local.", dwNetURL)
	changed.ForwardingConfig = &clouddns.ManagedZoneForwardingConfig{TargetNameServers: []*clouddns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: "10.132.0.53"}}}
	w.fake.AddManagedZone(dwProject, changed)
	if _, err := w.applier(dir).Apply(context.Background(), dp, nil); err == nil || !strings.Contains(err.Error(), "changed since the check") {
		t.Fatalf("apply on a changed zone: %v", err)
	}
	found := false
	for _, n := range w.zoneNames() {
		found = found || n == dwFwdZone
	}
	if !found {
		t.Fatal("a changed zone was deleted")
	}
}

// An owned record left on an old LB IP is patched to the current one; undo restores it; a record
// changed since the check is not overwritten.
func TestDNSUpdateRecordFixAndUndo(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.addILB(dwILBIP)
	w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): "10.132.0.7"})
	w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
	id := "update-record/gkedoctor-internal/development-agent." + w.ns + ".gkedoctor.internal"
	up := fixByID(w.run("dns-stale-record"), id)
	if up == nil || !up.Reversible || up.Destructive {
		t.Fatalf("plan %v", up)
	}
	dir := t.TempDir()
	applied := w.apply(w.applier(dir), up)
	if rr := w.records(fixes.DefaultOwnedZoneName)[w.ownedName()+" A"]; rr.Rrdatas[0] != dwILBIP {
		t.Fatalf("record after the fix: %v", rr.Rrdatas)
	}
	if r := w.run("dns-stale-record"); r.Status != Pass {
		t.Fatalf("after the fix%s", dnsDump(r))
	}
	w.undoFromDisk(dir, applied.Entry.ID)
	if rr := w.records(fixes.DefaultOwnedZoneName)[w.ownedName()+" A"]; rr.Rrdatas[0] != "10.132.0.7" {
		t.Fatalf("record after undo: %v", rr.Rrdatas)
	}
	up = fixByID(w.run("dns-stale-record"), id)
	if err := w.fake.SetRRSet(dwProject, fixes.DefaultOwnedZoneName, &clouddns.ResourceRecordSet{Name: w.ownedName(), Type: "A", Ttl: 30, Rrdatas: []string{"10.132.0.8"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.applier(dir).Apply(context.Background(), up, nil); err == nil || !strings.Contains(err.Error(), "10.132.0.8") {
		t.Fatalf("apply over a concurrent change: %v", err)
	}
	if rr := w.records(fixes.DefaultOwnedZoneName)[w.ownedName()+" A"]; rr.Rrdatas[0] != "10.132.0.8" {
		t.Fatalf("a concurrent change was overwritten: %v", rr.Rrdatas)
	}
}
