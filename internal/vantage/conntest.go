package vantage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	nm "google.golang.org/api/networkmanagement/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

const undoDeleteConnTest = "delete-connectivity-test"

func init() { fixes.RegisterUndoer(undoDeleteConnTest, undoDeleteConnTestFn) }

type connTestRef struct {
	Name string `json:"name"`
}

func undoDeleteConnTestFn(ctx context.Context, deps *fixes.Deps, params json.RawMessage) error {
	var r connTestRef
	if err := json.Unmarshal(params, &r); err != nil {
		return err
	}
	if deps.GCP == nil {
		return apierr.NotConfiguredf("Google credentials", "cannot delete connectivity test %s: no Google API client", r.Name)
	}
	_, err := deps.GCP.NetworkManagement.Projects.Locations.Global.ConnectivityTests.Delete(r.Name).Context(ctx).Do()
	if err != nil {
		if apierr.KindOf(gcp.Map(err, "delete", r.Name)) == apierr.NotFound {
			return nil
		}
		return gcp.MapWith(err, "delete connectivity test", r.Name, "networkmanagement.connectivitytests.delete")
	}
	return nil
}

// SecondOpinion is a connectivity test's verdict, shown beside the tool's own.
type SecondOpinion struct {
	Test    string   `json:"test"`   // the test's name while it existed
	Result  string   `json:"result"` // REACHABLE, UNREACHABLE, AMBIGUOUS, UNDETERMINED
	Steps   []string `json:"steps"`  // the first trace, one line per step
	Error   string   `json:"error,omitempty"`
	Cleanup string   `json:"cleanup,omitempty"`
	Journal string   `json:"journal,omitempty"`
}

// Reachable reports the test's verdict as a prediction of a connection: true, false, or unknown.
func (s SecondOpinion) Reachable() (reachable, known bool) {
	switch s.Result {
	case "REACHABLE":
		return true, true
	case "UNREACHABLE":
		return false, true
	}
	return false, false
}

// ConnTest runs one Network Management connectivity test and deletes it afterwards (gcpdiag leaves
// them behind; this does not).
type ConnTest struct {
	GCP         *gcp.Clients
	Applier     *fixes.Applier
	Project     string
	Source      *nm.Endpoint
	Destination *nm.Endpoint
	Deadline    time.Duration // 0: 2 minutes
	Poll        time.Duration // 0: 2 s
	Check       string
}

// Preview says what Run will create.
func (c *ConnTest) Preview() Preview {
	return Preview{From: "connectivity-test",
		What:     fmt.Sprintf("a Network Management connectivity test from %s to %s", endpointText(c.Source), endpointText(c.Destination)),
		Where:    "project " + c.Project,
		Deadline: "until its analysis is done (at most 2m); deleted afterwards",
		Cost:     "one connectivity test analysis (billed per run beyond the free tier)",
		Commands: []string{fmt.Sprintf("gcloud network-management connectivity-tests create gkedoctor-ct --project %s %s %s --protocol TCP",
			c.Project, endpointFlags("source", c.Source), endpointFlags("destination", c.Destination)),
			fmt.Sprintf("gcloud network-management connectivity-tests delete gkedoctor-ct --project %s --quiet", c.Project)}}
}

func endpointText(e *nm.Endpoint) string {
	switch {
	case e == nil:
		return "?"
	case e.CloudRunRevision != nil:
		return "Cloud Run revision " + gref.ShortName(e.CloudRunRevision.Uri)
	case e.GkePod != "":
		return "pod " + e.GkePod
	case e.Port != 0:
		return fmt.Sprintf("%s:%d", e.IpAddress, e.Port)
	}
	return e.IpAddress
}

func endpointFlags(side string, e *nm.Endpoint) string {
	if e == nil {
		return ""
	}
	var f []string
	if e.CloudRunRevision != nil {
		f = append(f, "--"+side+"-cloud-run-revision="+e.CloudRunRevision.Uri)
	}
	if e.IpAddress != "" {
		f = append(f, "--"+side+"-ip-address="+e.IpAddress)
	}
	if e.Port != 0 {
		f = append(f, fmt.Sprintf("--%s-port=%d", side, e.Port))
	}
	if e.Network != "" {
		f = append(f, "--"+side+"-network="+e.Network)
	}
	return strings.Join(f, " ")
}

// Run creates the test (journaled first), waits for its analysis, and deletes it.
func (c *ConnTest) Run(ctx context.Context) (op SecondOpinion) {
	deadline := c.Deadline
	if deadline <= 0 {
		deadline = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	id := "gkedoctor-ct-" + randomSuffix()
	name := "projects/" + c.Project + "/locations/global/connectivityTests/" + id
	op.Test = name
	test := &nm.ConnectivityTest{Source: c.Source, Destination: c.Destination, Protocol: "TCP",
		Description: "gkedoctor second opinion for " + c.Check + " (deleted after the run)",
		Labels:      map[string]string{jobLabelManagedBy: ManagedBy, jobLabelProbe: "true"}}
	fp := &fixes.Plan{
		ID: "connectivity-test/" + c.Project + "/" + id, Check: c.Check, Title: "Create connectivity test " + id,
		Reversible: true, Commands: c.Preview().Commands,
		JudgedAgainst: []string{"a new connectivity test " + id + " only (deleted after the run); no network configuration changes"},
		Snapshot: func(context.Context) (fixes.Snapshot, error) {
			return fixes.Snapshot{Prior: []fixes.Object{{API: "networkmanagement.googleapis.com", Kind: "ConnectivityTest", Name: name, Absent: true}},
				Undo: []fixes.UndoAction{fixes.NewUndo(undoDeleteConnTest, connTestRef{Name: name})}}, nil
		},
		Apply: func(ctx context.Context, _ fixes.Snapshot) (fixes.Outcome, error) {
			o, err := c.GCP.NetworkManagement.Projects.Locations.Global.ConnectivityTests.Create("projects/"+c.Project+"/locations/global", test).TestId(id).Context(ctx).Do()
			if err != nil {
				return fixes.Outcome{}, gcp.MapWith(err, "create connectivity test", name, "networkmanagement.connectivitytests.create")
			}
			if o.Error != nil {
				return fixes.Outcome{}, fmt.Errorf("create connectivity test %s: %s", name, o.Error.Message)
			}
			return fixes.Outcome{Message: "created connectivity test " + name}, nil
		},
	}
	applied, err := c.Applier.Apply(ctx, fp, nil)
	if applied != nil && applied.Entry != nil {
		op.Journal = applied.Entry.ID
	}
	defer func() { op.Cleanup = cleanup(ctx, c.Applier, applied) }()
	if err != nil {
		op.Error = err.Error()
		return op
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	for {
		t, err := c.GCP.NetworkManagement.Projects.Locations.Global.ConnectivityTests.Get(name).Context(ctx).Do()
		if err != nil {
			op.Error = gcp.MapWith(err, "get connectivity test", name, "networkmanagement.connectivitytests.get").Error()
			return op
		}
		if d := t.ReachabilityDetails; d != nil && d.Result != "" && d.VerifyTime != "" {
			op.Result = d.Result
			if d.Error != nil {
				op.Error = d.Error.Message
			}
			if len(d.Traces) > 0 {
				for _, s := range d.Traces[0].Steps {
					line := s.State
					if s.Description != "" {
						line += ": " + s.Description
					}
					op.Steps = append(op.Steps, line)
				}
			}
			return op
		}
		select {
		case <-ctx.Done():
			op.Error = "the connectivity test's analysis did not finish in time"
			return op
		case <-time.After(poll):
		}
	}
}
