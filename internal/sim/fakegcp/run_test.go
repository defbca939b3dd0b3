package fakegcp_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

const svcName = "projects/dev-orchestra/locations/europe-west1/services/gke-connectivity-tester4"

func seedRunService(s *fakegcp.Server) {
	s.AddRunService(project, region, &run.GoogleCloudRunV2Service{
		Name: "gke-connectivity-tester4",
		Template: &run.GoogleCloudRunV2RevisionTemplate{
			VpcAccess: &run.GoogleCloudRunV2VpcAccess{
				Connector: "projects/dev-orchestra/locations/europe-west1/connectors/my-vpc-connector",
				Egress:    "ALL_TRAFFIC",
			},
		},
	})
}

var revisionRE = regexp.MustCompile(`^gke-connectivity-tester4-0000(\d)-[a-z]{3}$`)

func TestRun_PatchWithStaleEtagIsAbortedAndChangesNothing(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedRunService(s)
	before, ok := s.RunService(project, region, "gke-connectivity-tester4")
	if !ok {
		t.Fatal("seeded service missing")
	}

	svc, err := a.run.Projects.Locations.Services.Get(svcName).Context(ctx).Do()
	noErr(t, err)
	svc.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY"
	svc.Etag = `"stale"`
	_, err = a.run.Projects.Locations.Services.Patch(svcName, svc).Context(ctx).Do()
	ge := apiErr(t, err, 409)
	var env struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	noErr(t, json.Unmarshal([]byte(ge.Body), &env))
	if env.Error.Status != "ABORTED" {
		t.Fatalf("status %q, want ABORTED", env.Error.Status)
	}
	after, _ := s.RunService(project, region, "gke-connectivity-tester4")
	if after.Etag != before.Etag || after.Generation != before.Generation || after.Template.VpcAccess.Egress != "ALL_TRAFFIC" {
		t.Fatalf("service changed by a rejected patch: %+v", after)
	}
}

func TestRun_PatchReturnsOperationThatYieldsNewRevision(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedRunService(s)
	svc, err := a.run.Projects.Locations.Services.Get(svcName).Context(ctx).Do()
	noErr(t, err)
	if !revisionRE.MatchString(svc.LatestReadyRevision) || svc.Generation != 1 || svc.Etag == "" {
		t.Fatalf("seeded service: gen %d, rev %q, etag %q", svc.Generation, svc.LatestReadyRevision, svc.Etag)
	}
	oldRev := svc.LatestReadyRevision
	svc.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY"

	op, err := a.run.Projects.Locations.Services.Patch(svcName, svc).Context(ctx).Do()
	noErr(t, err)
	if !regexp.MustCompile(`^projects/dev-orchestra/locations/europe-west1/operations/[0-9a-f-]{36}$`).MatchString(op.Name) {
		t.Fatalf("operation name %q", op.Name)
	}
	op, err = a.run.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
	noErr(t, err)
	if !op.Done {
		t.Fatal("operation not done without an operation delay")
	}
	var resp struct {
		Type string `json:"@type"`
		run.GoogleCloudRunV2Service
	}
	noErr(t, json.Unmarshal(op.Response, &resp))
	if resp.Type != "type.googleapis.com/google.cloud.run.v2.Service" {
		t.Fatalf("response @type %q", resp.Type)
	}
	got, err := a.run.Projects.Locations.Services.Get(svcName).Context(ctx).Do()
	noErr(t, err)
	m := revisionRE.FindStringSubmatch(got.LatestReadyRevision)
	if m == nil || m[1] != "2" || got.LatestReadyRevision == oldRev || got.LatestCreatedRevision != got.LatestReadyRevision {
		t.Fatalf("revisions after update: created %q ready %q (old %q)", got.LatestCreatedRevision, got.LatestReadyRevision, oldRev)
	}
	if got.Generation != 2 || got.Etag == svc.Etag || got.Template.VpcAccess.Egress != "PRIVATE_RANGES_ONLY" || got.Reconciling {
		t.Fatalf("service after update: gen %d etag %q egress %q reconciling %v", got.Generation, got.Etag, got.Template.VpcAccess.Egress, got.Reconciling)
	}
	if got.TerminalCondition == nil || got.TerminalCondition.State != "CONDITION_SUCCEEDED" {
		t.Fatalf("terminal condition %+v", got.TerminalCondition)
	}
}

func TestRun_OperationDelay(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedRunService(s)
	s.SetOperationDelay(300 * time.Millisecond)
	svc, err := a.run.Projects.Locations.Services.Get(svcName).Context(ctx).Do()
	noErr(t, err)
	svc.Etag = "" // an empty etag skips the check
	op, err := a.run.Projects.Locations.Services.Patch(svcName, svc).Context(ctx).Do()
	noErr(t, err)
	if op.Done {
		t.Fatal("operation done before its delay")
	}
	mid, err := a.run.Projects.Locations.Services.Get(svcName).Context(ctx).Do()
	noErr(t, err)
	if !mid.Reconciling || mid.LatestCreatedRevision == mid.LatestReadyRevision {
		t.Fatalf("while running: reconciling %v created %q ready %q", mid.Reconciling, mid.LatestCreatedRevision, mid.LatestReadyRevision)
	}
	start := time.Now()
	op, err = a.run.Projects.Locations.Operations.Wait(op.Name, &run.GoogleLongrunningWaitOperationRequest{Timeout: "5s"}).Context(ctx).Do()
	noErr(t, err)
	if !op.Done || time.Since(start) > 2*time.Second {
		t.Fatalf("wait: done %v after %v", op.Done, time.Since(start))
	}
	done, err := a.run.Projects.Locations.Services.Get(svcName).Context(ctx).Do()
	noErr(t, err)
	if done.Reconciling || done.LatestReadyRevision != mid.LatestCreatedRevision {
		t.Fatalf("after the operation: reconciling %v ready %q, want %q", done.Reconciling, done.LatestReadyRevision, mid.LatestCreatedRevision)
	}
}

func TestRun_ListAndMissing(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.PageSize = 2
	for _, n := range []string{"a", "b", "c"} {
		s.AddRunService(project, region, &run.GoogleCloudRunV2Service{Name: n})
	}
	var names []string
	noErr(t, a.run.Projects.Locations.Services.List("projects/"+project+"/locations/"+region).Pages(ctx,
		func(r *run.GoogleCloudRunV2ListServicesResponse) error {
			for _, svc := range r.Services {
				names = append(names, svc.Name)
			}
			return nil
		}))
	if len(names) != 3 || names[0] != "projects/dev-orchestra/locations/europe-west1/services/a" {
		t.Fatalf("listed %v", names)
	}
	_, err := a.run.Projects.Locations.Services.Get("projects/dev-orchestra/locations/europe-west1/services/nope").Context(ctx).Do()
	apiErr(t, err, 404)
	_, err = a.run.Projects.Locations.Operations.Get("projects/dev-orchestra/locations/europe-west1/operations/nope").Context(ctx).Do()
	apiErr(t, err, 404)
}
