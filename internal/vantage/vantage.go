// Package vantage runs gkedoctor's live probes from where the client runs: an ephemeral pod in the
// cluster (the pod's or, with hostNetwork, the node's point of view), an ephemeral Cloud Run job with
// the client service's exact VPC settings, and a Network Management connectivity test as a second
// opinion. Each of them creates something, so each is fix-class: it goes through the fix Applier
// (refused in read-only mode, journaled with its cleanup before it is created), it is deleted always
// (on success, failure, timeout and cancellation, with a fresh deadline), and it carries labels so
// that a later run sweeps what a killed run left behind.
package vantage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// Where a probe runs.
const (
	FromCluster  = "cluster"   // a pod in the target namespace
	FromNode     = "node"      // a hostNetwork pod: the node's vantage
	FromCloudRun = "cloud-run" // a Cloud Run job with the client service's VPC settings
)

// Labels every created object carries, so that a later run finds leftovers.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "gkedoctor"
	LabelProbe     = "gkedoctor.dev/probe"
	// AnnotationExpires is when the object is overdue (RFC 3339): a sweep deletes it after that.
	AnnotationExpires = "gkedoctor.dev/expires"
)

// DefaultDeadline bounds one vantage run: creation, the probes, reading the result.
const DefaultDeadline = 3 * time.Minute

// cleanupTimeout is the fresh deadline cleanup gets when the run's own context is done.
const cleanupTimeout = 30 * time.Second

// Observation is what one vantage point saw: its name for the evidence, the probe report, and what
// was created and removed to get it.
type Observation struct {
	From    string        `json:"from"`    // cluster, node, cloud-run
	Vantage string        `json:"vantage"` // "pod default/gkedoctor-probe-1a2b3c on node gke-…"
	Report  *probe.Report `json:"report,omitempty"`
	Error   string        `json:"error,omitempty"`
	// Created and Cleanup say what was made and whether it is gone (journal ids name them).
	Created string `json:"created,omitempty"`
	Cleanup string `json:"cleanup,omitempty"`
	Journal string `json:"journal,omitempty"`
}

// Preview is what a vantage point will create, said before it is: where, for how long, at what cost.
type Preview struct {
	From     string
	What     string   // "a pod default/gkedoctor-probe-… running ghcr.io/…"
	Where    string   // namespace / project and region
	Deadline string   // "at most 3m0s; deleted afterwards"
	Cost     string   // "no charge beyond the node's" / "one Cloud Run job execution (billed per second)"
	Commands []string // the equivalent kubectl / gcloud commands
}

// String renders the preview as a few lines.
func (p Preview) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Will create %s\n  where: %s\n  for:   %s\n  cost:  %s\n", p.What, p.Where, p.Deadline, p.Cost)
	for _, c := range p.Commands {
		fmt.Fprintf(&b, "  $ %s\n", c)
	}
	return b.String()
}

// randomSuffix is six hex characters for object names.
func randomSuffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// planJSON is the plan as the one-line JSON argument the pod or job is started with.
func planJSON(p probe.Plan) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// parseReport finds the probe result in a log: the JSON document of kind gkedoctor.ProbeResult (the
// log may hold other lines around it).
func parseReport(log []byte) (*probe.Report, error) {
	i := bytes.IndexByte(log, '{')
	for i >= 0 {
		dec := json.NewDecoder(bytes.NewReader(log[i:]))
		var r probe.Report
		if err := dec.Decode(&r); err == nil && r.Kind == probe.ResultKind {
			if r.SchemaVersion != probe.PlanSchemaVersion {
				return nil, fmt.Errorf("the probe result has schemaVersion %d; this gkedoctor reads %d (use the same version of the image: --probe-image)", r.SchemaVersion, probe.PlanSchemaVersion)
			}
			return &r, nil
		}
		j := bytes.IndexByte(log[i+1:], '{')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if len(log) == 0 {
		return nil, errors.New("the probe printed nothing")
	}
	return nil, fmt.Errorf("no probe result in its output (%d bytes; first line %q)", len(log), firstLine(log))
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// cleanup undoes a journaled creation with a fresh deadline: the run's context may be cancelled or
// past its deadline, and cleanup must still happen.
func cleanup(ctx context.Context, a *fixes.Applier, applied *fixes.Applied) string {
	if applied == nil || applied.Entry == nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := a.Undo(cctx, applied.Entry); err != nil {
		return "NOT deleted: " + err.Error() + " (gkedoctor undo " + applied.Entry.ID + " retries; the next --from run sweeps it)"
	}
	return "deleted"
}
