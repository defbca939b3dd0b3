package vantage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	logging "google.golang.org/api/logging/v2"
	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

const undoDeleteProbeJob = "delete-probe-job"

func init() { fixes.RegisterUndoer(undoDeleteProbeJob, undoDeleteProbeJobFn) }

type probeJobRef struct {
	Name string `json:"name"` // projects/P/locations/L/jobs/J
}

// Google labels allow no dots or slashes: the job's labels are the pod labels' flat forms.
const (
	jobLabelManagedBy = "managed-by"
	jobLabelProbe     = "gkedoctor-probe"
	jobLabelExpires   = "gkedoctor-expires"    // Unix seconds
	jobLabelAsService = "gkedoctor-as-service" // the client service whose VPC settings the job copies
)

func undoDeleteProbeJobFn(ctx context.Context, deps *fixes.Deps, params json.RawMessage) error {
	var r probeJobRef
	if err := json.Unmarshal(params, &r); err != nil {
		return err
	}
	if deps.GCP == nil {
		return apierr.NotConfiguredf("Google credentials", "cannot delete probe job %s: no Google API client", r.Name)
	}
	_, err := deps.GCP.Run.Projects.Locations.Jobs.Delete(r.Name).Context(ctx).Do()
	if err != nil {
		if apierr.KindOf(gcp.Map(err, "delete", r.Name)) == apierr.NotFound {
			return nil // already gone: cleanup is idempotent
		}
		return gcp.MapWith(err, "delete Cloud Run job", r.Name, "run.jobs.delete")
	}
	return nil
}

// CloudRun runs a probe plan as an ephemeral Cloud Run job with the client service's exact VPC
// settings (connector or Direct VPC network/subnet/tags, egress) and service account, in the
// service's project and region; the result is read back from Cloud Logging.
type CloudRun struct {
	GCP     *gcp.Clients
	Applier *fixes.Applier
	// Service is the client whose network position the job takes.
	Service  *run.GoogleCloudRunV2Service
	Image    string
	Deadline time.Duration // 0: DefaultDeadline
	Poll     time.Duration // 0: 2 s
	Check    string
	Now      func() time.Time
}

func (c *CloudRun) deadline() time.Duration {
	if c.Deadline > 0 {
		return c.Deadline
	}
	return DefaultDeadline
}

func (c *CloudRun) where() (project, location string) {
	return gref.ProjectOf(c.Service.Name), gref.LocationOf(c.Service.Name)
}

// describeVPC says how the service (and so the job) reaches the VPC, for the vantage's name.
func describeVPC(v *run.GoogleCloudRunV2VpcAccess) string {
	if v == nil {
		return "no VPC access"
	}
	egress := v.Egress
	if egress == "" {
		egress = "PRIVATE_RANGES_ONLY"
	}
	if v.Connector != "" {
		return "via connector " + gref.ShortName(v.Connector) + ", egress " + egress
	}
	if len(v.NetworkInterfaces) > 0 {
		ni := v.NetworkInterfaces[0]
		s := "Direct VPC egress"
		if ni.Network != "" {
			s += " network " + gref.ShortName(ni.Network)
		}
		if ni.Subnetwork != "" {
			s += " subnet " + gref.ShortName(ni.Subnetwork)
		}
		if len(ni.Tags) > 0 {
			s += " tags " + strings.Join(ni.Tags, ",")
		}
		return s + ", egress " + egress
	}
	return "no VPC access"
}

// JobSpec is the job the vantage point creates: one task, no retries, the plan as arguments, the
// service's VPC access and service account.
func (c *CloudRun) JobSpec(id string, plan probe.Plan, now time.Time) (*run.GoogleCloudRunV2Job, error) {
	pj, err := planJSON(plan)
	if err != nil {
		return nil, err
	}
	tmpl := c.Service.Template
	if tmpl == nil {
		tmpl = &run.GoogleCloudRunV2RevisionTemplate{}
	}
	svcName := gref.ShortName(c.Service.Name)
	vantage := fmt.Sprintf("Cloud Run job %s (as service %s: %s)", id, svcName, describeVPC(tmpl.VpcAccess))
	return &run.GoogleCloudRunV2Job{
		Labels: map[string]string{jobLabelManagedBy: ManagedBy, jobLabelProbe: "true", jobLabelAsService: svcName,
			jobLabelExpires: strconv.FormatInt(now.Add(c.deadline()).Unix(), 10)},
		Template: &run.GoogleCloudRunV2ExecutionTemplate{TaskCount: 1, Parallelism: 1,
			Template: &run.GoogleCloudRunV2TaskTemplate{
				MaxRetries:      0,
				ForceSendFields: []string{"MaxRetries"},
				Timeout:         fmt.Sprintf("%ds", int(c.deadline()/time.Second)),
				ServiceAccount:  tmpl.ServiceAccount,
				VpcAccess:       tmpl.VpcAccess,
				Containers: []*run.GoogleCloudRunV2Container{{Name: "probe", Image: c.Image,
					Args: []string{"probe", "--plan-json", pj, "--vantage", vantage}}},
			}},
	}, nil
}

// Preview says what Run will create.
func (c *CloudRun) Preview() Preview {
	p, l := c.where()
	var tmpl *run.GoogleCloudRunV2RevisionTemplate
	if c.Service != nil {
		tmpl = c.Service.Template
	}
	var vpc *run.GoogleCloudRunV2VpcAccess
	if tmpl != nil {
		vpc = tmpl.VpcAccess
	}
	what := "a Cloud Run job gkedoctor-probe-XXXXXX running " + c.Image + " once, with the VPC settings of " +
		gref.ShortName(c.Service.Name) + " (" + describeVPC(vpc) + ")"
	if !strings.Contains(c.Image, "docker.pkg.dev/") && !strings.Contains(c.Image, "gcr.io/") && !strings.HasPrefix(c.Image, "docker.io/") {
		what += "; note: Cloud Run pulls only from Artifact Registry, Container Registry or Docker Hub — mirror the image and pass --probe-image"
	}
	cmd := fmt.Sprintf("gcloud run jobs create gkedoctor-probe --project %s --region %s --image %s --tasks 1 --max-retries 0 --args probe,…", p, l, c.Image)
	if vpc != nil && vpc.Connector != "" {
		cmd += " --vpc-connector " + vpc.Connector
	}
	if vpc != nil && vpc.Egress != "" {
		cmd += " --vpc-egress " + map[string]string{"ALL_TRAFFIC": "all-traffic", "PRIVATE_RANGES_ONLY": "private-ranges-only"}[vpc.Egress]
	}
	return Preview{From: FromCloudRun, What: what, Where: "project " + p + ", region " + l,
		Deadline: fmt.Sprintf("at most %s (task timeout); the job is deleted afterwards, whatever happens", c.deadline()),
		Cost:     "one Cloud Run job execution of a few seconds (billed per second of CPU and memory), and its log lines in Cloud Logging",
		Commands: []string{cmd, fmt.Sprintf("gcloud run jobs execute gkedoctor-probe --project %s --region %s --wait", p, l),
			fmt.Sprintf("gcloud run jobs delete gkedoctor-probe --project %s --region %s --quiet", p, l)}}
}

// Run creates the job (journaled first), runs one execution, reads its output from Cloud Logging and
// deletes the job.
func (c *CloudRun) Run(ctx context.Context, plan probe.Plan) (obs Observation) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	p, l := c.where()
	id := "gkedoctor-probe-" + randomSuffix()
	name := "projects/" + p + "/locations/" + l + "/jobs/" + id
	obs = Observation{From: FromCloudRun}
	if p == "" {
		obs.Error = fmt.Sprintf("the client service %q has no projects/P/locations/L/ name", c.Service.Name)
		return obs
	}
	job, err := c.JobSpec(id, plan, now())
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	obs.Vantage = job.Template.Template.Containers[0].Args[4]
	ctx, cancel := context.WithTimeout(ctx, c.deadline())
	defer cancel()
	ref := probeJobRef{Name: name}
	fp := &fixes.Plan{
		ID: "probe-job/" + p + "/" + l + "/" + id, Check: c.Check, Title: "Create probe job " + id,
		Reversible: true, Commands: c.Preview().Commands,
		JudgedAgainst: []string{"a new Cloud Run job " + id + " only (deleted after the probe); no existing service changes"},
		Snapshot: func(context.Context) (fixes.Snapshot, error) {
			return fixes.Snapshot{Prior: []fixes.Object{{API: "run.googleapis.com", Kind: "Job", Name: name, Absent: true}},
				Undo: []fixes.UndoAction{fixes.NewUndo(undoDeleteProbeJob, ref)}}, nil
		},
		Apply: func(ctx context.Context, _ fixes.Snapshot) (fixes.Outcome, error) {
			op, err := c.GCP.Run.Projects.Locations.Jobs.Create("projects/"+p+"/locations/"+l, job).JobId(id).Context(ctx).Do()
			if err != nil {
				return fixes.Outcome{}, gcp.MapWith(err, "create Cloud Run job", name, "run.jobs.create")
			}
			if op.Error != nil {
				return fixes.Outcome{}, fmt.Errorf("create Cloud Run job %s: %s", name, op.Error.Message)
			}
			return fixes.Outcome{Message: "created Cloud Run job " + name,
				Created: []fixes.Object{{API: "run.googleapis.com", Kind: "Job", Name: name}}}, nil
		},
	}
	applied, err := c.Applier.Apply(ctx, fp, nil)
	if applied != nil && applied.Entry != nil {
		obs.Journal = applied.Entry.ID
	}
	defer func() { obs.Cleanup = cleanup(ctx, c.Applier, applied) }()
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	obs.Created = "Cloud Run job " + name
	exec, err := c.execute(ctx, name)
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	lines, err := c.readLog(ctx, p, id, exec)
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	rep, err := parseReport([]byte(strings.Join(lines, "\n")))
	if err != nil {
		obs.Error = "execution " + exec + ": " + err.Error()
		return obs
	}
	rep.Vantage = obs.Vantage
	obs.Report = rep
	return obs
}

// execute runs one execution and waits for it to complete; it returns the execution's short name.
func (c *CloudRun) execute(ctx context.Context, job string) (string, error) {
	op, err := c.GCP.Run.Projects.Locations.Jobs.Run(job, &run.GoogleCloudRunV2RunJobRequest{}).Context(ctx).Do()
	if err != nil {
		return "", gcp.MapWith(err, "run Cloud Run job", job, "run.jobs.run")
	}
	var ex run.GoogleCloudRunV2Execution
	if len(op.Metadata) > 0 {
		_ = json.Unmarshal(op.Metadata, &ex)
	}
	if ex.Name == "" {
		return "", fmt.Errorf("run Cloud Run job %s: the operation names no execution", job)
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	for ex.CompletionTime == "" {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("execution %s did not complete in time: %w", ex.Name, ctx.Err())
		case <-time.After(poll):
		}
		got, err := c.GCP.Run.Projects.Locations.Jobs.Executions.Get(ex.Name).Context(ctx).Do()
		if err != nil {
			return "", gcp.MapWith(err, "get execution", ex.Name, "run.executions.get")
		}
		ex = *got
	}
	return gref.ShortName(ex.Name), nil
}

// readLog reads the execution's output lines from Cloud Logging, retrying while they are not yet
// ingested (bounded by ctx).
func (c *CloudRun) readLog(ctx context.Context, project, job, exec string) ([]string, error) {
	filter := fmt.Sprintf(`resource.type="cloud_run_job" AND resource.labels.job_name="%s" AND labels."run.googleapis.com/execution_name"="%s"`, job, exec)
	poll := c.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	for {
		resp, err := c.GCP.Logging.Entries.List(&logging.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project},
			Filter: filter, OrderBy: "timestamp asc", PageSize: 1000}).Context(ctx).Do()
		if err != nil {
			return nil, gcp.MapWith(err, "read the probe job's log", "projects/"+project, "logging.logEntries.list")
		}
		var lines []string
		for _, e := range resp.Entries {
			lines = append(lines, e.TextPayload)
		}
		if _, perr := parseReport([]byte(strings.Join(lines, "\n"))); perr == nil {
			return lines, nil
		}
		select {
		case <-ctx.Done():
			if len(lines) > 0 {
				return lines, nil // what there is: parseReport says what is wrong with it
			}
			return nil, fmt.Errorf("no log lines from execution %s in Cloud Logging before the deadline", exec)
		case <-time.After(poll):
		}
	}
}

// SweepCloudRun deletes probe jobs a killed run left in project/location (their deadline passed).
func SweepCloudRun(ctx context.Context, g *gcp.Clients, project, location string, now time.Time) ([]string, error) {
	resp, err := g.Run.Projects.Locations.Jobs.List("projects/" + project + "/locations/" + location).Context(ctx).Do()
	if err != nil {
		return nil, gcp.MapWith(err, "list Cloud Run jobs", "projects/"+project+"/locations/"+location, "run.jobs.list")
	}
	var gone []string
	for _, j := range resp.Jobs {
		if j.Labels[jobLabelManagedBy] != ManagedBy || j.Labels[jobLabelProbe] != "true" {
			continue
		}
		if exp, err := strconv.ParseInt(j.Labels[jobLabelExpires], 10, 64); err == nil && now.Unix() < exp {
			continue
		}
		if _, err := g.Run.Projects.Locations.Jobs.Delete(j.Name).Context(ctx).Do(); err == nil {
			gone = append(gone, j.Name)
		}
	}
	return gone, nil
}
