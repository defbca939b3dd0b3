package vantage

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	nm "google.golang.org/api/networkmanagement/v1"
	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

const testService = "projects/acme-dev/locations/europe-west1/services/gke-connectivity-tester4"

func fakeGoogle(t *testing.T, readOnly bool) (*fakegcp.Server, *gcp.Clients, *fixes.Applier) {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: s.URL, ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), ReadOnly: readOnly, Deps: &fixes.Deps{GCP: g}}
	return s, g, a
}

// jobRunner plays the job's container: it runs the plan from its arguments against loopback and
// prints the result as the real container would, one log line.
func jobRunner(t *testing.T, seen *[]*run.GoogleCloudRunV2Job) fakegcp.JobRunner {
	return func(job *run.GoogleCloudRunV2Job) fakegcp.JobRun {
		*seen = append(*seen, job)
		args := job.Template.Template.Containers[0].Args
		var plan probe.Plan
		for i := range args {
			if args[i] == "--plan-json" {
				if err := json.Unmarshal([]byte(args[i+1]), &plan); err != nil {
					t.Errorf("job's plan: %v", err)
				}
			}
		}
		rep := probe.Run(context.Background(), plan, probe.Vantage{Name: "job", Dialer: probe.LoopbackOnlyDialer{}})
		b, _ := json.Marshal(rep)
		return fakegcp.JobRun{Lines: []string{"Container called exit(0).", string(b)}, Succeeded: true}
	}
}

func clientService() *run.GoogleCloudRunV2Service {
	return &run.GoogleCloudRunV2Service{Name: testService, Template: &run.GoogleCloudRunV2RevisionTemplate{
		ServiceAccount: "tester@acme-dev.iam.gserviceaccount.com",
		VpcAccess: &run.GoogleCloudRunV2VpcAccess{Connector: "projects/acme-dev/locations/europe-west1/connectors/my-vpc-connector",
			Egress: "PRIVATE_RANGES_ONLY"}}}
}

// TestCloudRunVantageCycle: create → run → logs → delete through the real run/v2 and logging/v2
// clients; a permission error at each step is named, and the job is deleted whenever it was created.
func TestCloudRunVantageCycle(t *testing.T) {
	for _, step := range []struct {
		name, method, path, perm, want string
		created                        bool
	}{
		{"ok", "", "", "", "", true},
		{"create-denied", "POST", "/jobs", "run.jobs.create", "run.jobs.create", false},
		{"run-denied", "POST", ":run", "run.jobs.run", "run.jobs.run", true},
		{"logs-denied", "POST", "entries:list", "logging.logEntries.list", "logging.logEntries.list", true},
	} {
		t.Run(step.name, func(t *testing.T) {
			s, g, a := fakeGoogle(t, false)
			var seen []*run.GoogleCloudRunV2Job
			s.SetJobRunner(jobRunner(t, &seen))
			if step.method != "" {
				s.InjectFault(fakegcp.Fault{Method: step.method, PathContains: step.path, Status: 403, Permission: step.perm})
			}
			plan, addr := tcpPlan(t)
			v := &CloudRun{GCP: g, Applier: a, Service: clientService(), Image: "europe-docker.pkg.dev/acme/tools/gkedoctor:test", Poll: 10 * time.Millisecond, Deadline: 10 * time.Second, Check: "clusterip-unreachable"}
			obs := v.Run(context.Background(), plan)
			if left := s.Jobs(); len(left) != 0 {
				t.Fatalf("jobs left behind: %v (%+v)", left, obs)
			}
			if step.want == "" {
				if obs.Error != "" || obs.Report == nil || !obs.Report.Results[0].OK || obs.Report.Results[0].Addr != addr {
					t.Fatalf("%+v", obs)
				}
				if len(seen) != 1 {
					t.Fatalf("%d executions", len(seen))
				}
				tmpl := seen[0].Template.Template
				if tmpl.VpcAccess == nil || tmpl.VpcAccess.Connector == "" || tmpl.ServiceAccount != "tester@acme-dev.iam.gserviceaccount.com" || tmpl.MaxRetries != 0 {
					t.Errorf("job does not take the service's VPC settings: %+v", tmpl)
				}
				if !strings.Contains(obs.Vantage, "via connector my-vpc-connector, egress PRIVATE_RANGES_ONLY") {
					t.Errorf("vantage %q", obs.Vantage)
				}
			} else if !strings.Contains(obs.Error, step.want) {
				t.Fatalf("error %q does not name %s", obs.Error, step.want)
			}
			if obs.Cleanup != "deleted" {
				t.Errorf("cleanup %q", obs.Cleanup)
			}
			if (obs.Created != "") != step.created {
				t.Errorf("created %q, want created=%v", obs.Created, step.created)
			}
		})
	}
}

// TestCloudRunVantageCleanupDenied: when the delete itself is refused, the run says the job is NOT
// deleted and how to retry; the next run's sweep deletes it once its deadline has passed.
func TestCloudRunVantageCleanupDenied(t *testing.T) {
	s, g, a := fakeGoogle(t, false)
	var seen []*run.GoogleCloudRunV2Job
	s.SetJobRunner(jobRunner(t, &seen))
	remove := s.InjectFault(fakegcp.Fault{Method: "DELETE", PathContains: "/jobs/", Status: 403, Permission: "run.jobs.delete"})
	plan, _ := tcpPlan(t)
	v := &CloudRun{GCP: g, Applier: a, Service: clientService(), Image: "docker.io/gkedoctor/gkedoctor:test", Poll: 10 * time.Millisecond, Deadline: 5 * time.Second}
	obs := v.Run(context.Background(), plan)
	if obs.Report == nil || !strings.Contains(obs.Cleanup, "NOT deleted") || !strings.Contains(obs.Cleanup, "run.jobs.delete") || !strings.Contains(obs.Cleanup, "gkedoctor undo") {
		t.Fatalf("%+v", obs)
	}
	if len(s.Jobs()) != 1 {
		t.Fatalf("jobs: %v", s.Jobs())
	}
	remove()
	gone, err := SweepCloudRun(context.Background(), g, "acme-dev", "europe-west1", time.Now())
	if err != nil || len(gone) != 0 {
		t.Fatalf("a job still in its time was swept: %v %v", gone, err)
	}
	gone, err = SweepCloudRun(context.Background(), g, "acme-dev", "europe-west1", time.Now().Add(time.Hour))
	if err != nil || len(gone) != 1 || len(s.Jobs()) != 0 {
		t.Fatalf("sweep: %v %v; left %v", gone, err, s.Jobs())
	}
}

// TestVantageRefusedReadOnly: in read-only mode nothing is created (the applier refuses, and the
// transport guard would refuse the POST anyway).
func TestVantageRefusedReadOnly(t *testing.T) {
	s, g, a := fakeGoogle(t, true)
	plan, _ := tcpPlan(t)
	obs := (&CloudRun{GCP: g, Applier: a, Service: clientService(), Image: "x", Deadline: 2 * time.Second}).Run(context.Background(), plan)
	if obs.Error == "" || obs.Created != "" || len(s.Jobs()) != 0 {
		t.Fatalf("%+v", obs)
	}
	op := (&ConnTest{GCP: g, Applier: a, Project: "acme-dev", Source: &nm.Endpoint{IpAddress: "10.8.0.2"}, Destination: &nm.Endpoint{IpAddress: "10.132.0.6", Port: 80}}).Run(context.Background())
	if op.Error == "" || len(s.ConnectivityTests()) != 0 {
		t.Fatalf("%+v", op)
	}
	for _, r := range s.Requests() {
		if r.Method != "GET" {
			t.Errorf("read-only run sent %s %s", r.Method, r.Path)
		}
	}
}

// TestConnectivityTestCycle: create → analysis → delete, with the analysis' verdict and trace read
// back; a denied create names the permission and leaves nothing.
func TestConnectivityTestCycle(t *testing.T) {
	s, g, a := fakeGoogle(t, false)
	s.SetReachability(func(ct *nm.ConnectivityTest) *nm.ReachabilityDetails {
		if ct.Destination.IpAddress != "34.118.231.33" || ct.Destination.Port != 80 {
			t.Errorf("destination %+v", ct.Destination)
		}
		return &nm.ReachabilityDetails{Result: "UNREACHABLE", Traces: []*nm.Trace{{Steps: []*nm.Step{
			{State: "START_FROM_SERVERLESS_VPC_ACCESS_CONNECTOR", Description: "my-vpc-connector"},
			{State: "DROP", Description: "no route to 34.118.231.33 in network default", CausesDrop: true}}}}}
	})
	ct := &ConnTest{GCP: g, Applier: a, Project: "acme-dev", Poll: 10 * time.Millisecond,
		Source:      &nm.Endpoint{CloudRunRevision: &nm.CloudRunRevisionEndpoint{Uri: "projects/acme-dev/locations/europe-west1/revisions/gke-connectivity-tester4-00001-abc"}},
		Destination: &nm.Endpoint{IpAddress: "34.118.231.33", Port: 80, Network: "projects/acme-dev/global/networks/default"}}
	op := ct.Run(context.Background())
	if op.Result != "UNREACHABLE" || len(op.Steps) != 2 || !strings.Contains(op.Steps[1], "no route") || op.Cleanup != "deleted" {
		t.Fatalf("%+v", op)
	}
	if r, known := op.Reachable(); r || !known {
		t.Errorf("Reachable() = %v %v", r, known)
	}
	if len(s.ConnectivityTests()) != 0 {
		t.Fatalf("tests left: %v", s.ConnectivityTests())
	}
	s.InjectFault(fakegcp.Fault{Method: "POST", PathContains: "connectivityTests", Status: 403, Permission: "networkmanagement.connectivitytests.create"})
	op = ct.Run(context.Background())
	if !strings.Contains(op.Error, "networkmanagement.connectivitytests.create") || len(s.ConnectivityTests()) != 0 {
		t.Fatalf("%+v", op)
	}
}
