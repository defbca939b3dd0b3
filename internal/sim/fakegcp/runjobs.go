package fakegcp

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/googleapi"
	logging "google.golang.org/api/logging/v2"
	run "google.golang.org/api/run/v2"
)

// Cloud Run jobs, their executions and the execution logs in Cloud Logging: what the `--from
// cloud-run` vantage point creates, runs, reads and deletes. Running an execution calls the job
// runner (SetJobRunner): the demo world runs the job's container — `gkedoctor probe` — inside its
// simulated network; a test plays it. Without a runner the execution fails ("no runner").

const (
	runJobType       = "type.googleapis.com/google.cloud.run.v2.Job"
	runExecutionType = "type.googleapis.com/google.cloud.run.v2.Execution"
)

// JobRun is what the runner returns for one execution: the container's output lines and whether its
// task succeeded.
type JobRun struct {
	Lines     []string
	Succeeded bool
}

// JobRunner runs one execution of job (the container's args, VPC access and service account are in
// job.Template.Template).
type JobRunner func(job *run.GoogleCloudRunV2Job) JobRun

type jobState struct {
	mu         sync.Mutex
	jobs       map[string]*run.GoogleCloudRunV2Job       // key(project, location, name)
	executions map[string]*run.GoogleCloudRunV2Execution // full name
	logs       []*logging.LogEntry
	runner     JobRunner
}

func (s *Server) jobs() *jobState {
	s.jobsOnce.Do(func() {
		s.jobState = &jobState{jobs: map[string]*run.GoogleCloudRunV2Job{}, executions: map[string]*run.GoogleCloudRunV2Execution{}}
	})
	return s.jobState
}

// SetJobRunner sets what running a job's execution does.
func (s *Server) SetJobRunner(f JobRunner) {
	j := s.jobs()
	j.mu.Lock()
	j.runner = f
	j.mu.Unlock()
}

// Jobs lists the Cloud Run jobs that exist (full names), for tests asserting cleanup.
func (s *Server) Jobs() []string {
	j := s.jobs()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, k := range keysWithPrefix(j.jobs) {
		out = append(out, j.jobs[k].Name)
	}
	return out
}

func (s *Server) runJobRoutes() []route {
	const p = "v2/projects/{project}/locations/{location}/"
	return []route{
		r("run", "POST", p+"jobs", s.createJob),
		r("run", "GET", p+"jobs", s.listJobs),
		r("run", "GET", p+"jobs/{job}", s.getJob),
		r("run", "DELETE", p+"jobs/{job}", s.deleteJob),
		r("run", "POST", p+"jobs/{job}:run", s.runJob),
		r("run", "GET", p+"jobs/{job}/executions/{execution}", s.getExecution),
		r("logging", "POST", "v2/entries:list", s.listLogEntries),
	}
}

func jobPath(p, l, n string) string { return "projects/" + p + "/locations/" + l + "/jobs/" + n }

// doneOp is a long-running operation that finished at once, carrying v as metadata and response.
func doneOp(name, typeURL string, v any) *run.GoogleLongrunningOperation {
	raw := googleapi.RawMessage(withType(typeURL, v))
	return &run.GoogleLongrunningOperation{Name: name, Done: true, Metadata: raw, Response: raw}
}

func (s *Server) createJob(c *call) (any, *apiError) {
	body := &run.GoogleCloudRunV2Job{}
	if err := c.decode(body, true); err != nil {
		return nil, err
	}
	p, l, id := c.v("project"), c.v("location"), c.query("jobId")
	if id == "" || len(id) > 63 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, errInvalid("jobId %q must be 1 to 63 lowercase letters, digits and hyphens.", id)
	}
	if body.Template == nil || body.Template.Template == nil || len(body.Template.Template.Containers) == 0 {
		return nil, errInvalid("Job template must have at least one container.")
	}
	j := s.jobs()
	j.mu.Lock()
	defer j.mu.Unlock()
	k := key(p, l, id)
	if _, ok := j.jobs[k]; ok {
		return nil, errAlreadyExists(jobPath(p, l, id))
	}
	now := time.Now()
	job := clone(body)
	job.Name, job.Uid, job.CreateTime, job.UpdateTime, job.Generation = jobPath(p, l, id), s.uuid(), rfc3339(now), rfc3339(now), 1
	job.Etag = s.runEtag()
	job.TerminalCondition = readyCondition("CONDITION_SUCCEEDED", now)
	j.jobs[k] = job
	c.mutated("Job", p, l, id, "")
	return doneOp("projects/"+p+"/locations/"+l+"/operations/"+s.uuid(), runJobType, job), nil
}

func (s *Server) listJobs(c *call) (any, *apiError) {
	j := s.jobs()
	j.mu.Lock()
	var items []*run.GoogleCloudRunV2Job
	for _, k := range keysWithPrefix(j.jobs, c.v("project"), c.v("location")) {
		items = append(items, clone(j.jobs[k]))
	}
	j.mu.Unlock()
	page, next, err := paginate(c, items, "pageSize")
	if err != nil {
		return nil, err
	}
	return &run.GoogleCloudRunV2ListJobsResponse{Jobs: page, NextPageToken: next}, nil
}

func (s *Server) getJob(c *call) (any, *apiError) {
	p, l, n := c.v("project"), c.v("location"), c.v("job")
	j := s.jobs()
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[key(p, l, n)]
	if !ok {
		return nil, errNotFound(jobPath(p, l, n))
	}
	return clone(job), nil
}

// deleteJob deletes the job and its executions (their logs stay, as Cloud Logging's do). An etag
// query parameter that differs is 409.
func (s *Server) deleteJob(c *call) (any, *apiError) {
	p, l, n := c.v("project"), c.v("location"), c.v("job")
	j := s.jobs()
	j.mu.Lock()
	defer j.mu.Unlock()
	k := key(p, l, n)
	job, ok := j.jobs[k]
	if !ok {
		return nil, errNotFound(jobPath(p, l, n))
	}
	if e := c.query("etag"); e != "" && e != job.Etag {
		return nil, errAborted("The etag of job %s does not match.", job.Name)
	}
	delete(j.jobs, k)
	for name := range j.executions {
		if strings.HasPrefix(name, job.Name+"/executions/") {
			delete(j.executions, name)
		}
	}
	c.mutated("Job", p, l, n, "")
	return doneOp("projects/"+p+"/locations/"+l+"/operations/"+s.uuid(), runJobType, job), nil
}

// runJob starts one execution; the runner plays the task at once (the operation is done when the
// execution has completed, as waiting on it would be).
func (s *Server) runJob(c *call) (any, *apiError) {
	var req run.GoogleCloudRunV2RunJobRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	p, l, n := c.v("project"), c.v("location"), c.v("job")
	j := s.jobs()
	j.mu.Lock()
	job, ok := j.jobs[key(p, l, n)]
	runner := j.runner
	var snapshot *run.GoogleCloudRunV2Job
	if ok {
		snapshot = clone(job)
	}
	j.mu.Unlock()
	if !ok {
		return nil, errNotFound(jobPath(p, l, n))
	}
	start := time.Now()
	res := JobRun{Lines: []string{"no job runner in this fake: the container did not start"}}
	if runner != nil {
		res = runner(snapshot)
	}
	end := time.Now()
	exName := fmt.Sprintf("%s/executions/%s-%s", snapshot.Name, n, s.randString(5, lowerAlpha))
	ex := &run.GoogleCloudRunV2Execution{Name: exName, Uid: s.uuid(), Job: n, CreateTime: rfc3339(start), StartTime: rfc3339(start),
		CompletionTime: rfc3339(end), TaskCount: 1, Parallelism: 1, Generation: 1, Template: snapshot.Template.Template,
		LogUri: "https://console.cloud.google.com/logs/viewer?project=" + p}
	state := "CONDITION_SUCCEEDED"
	if res.Succeeded {
		ex.SucceededCount = 1
	} else {
		ex.FailedCount, state = 1, "CONDITION_FAILED"
	}
	ex.Conditions = []*run.GoogleCloudRunV2Condition{{Type: "Completed", State: state, LastTransitionTime: rfc3339(end)}}
	j.mu.Lock()
	if cur, ok := j.jobs[key(p, l, n)]; ok {
		cur.ExecutionCount++
		cur.LatestCreatedExecution = &run.GoogleCloudRunV2ExecutionReference{Name: exName, CreateTime: ex.CreateTime, CompletionTime: ex.CompletionTime}
	}
	j.executions[exName] = ex
	short := lastSegment(exName)
	for i, line := range res.Lines {
		j.logs = append(j.logs, &logging.LogEntry{
			LogName:   "projects/" + p + "/logs/run.googleapis.com%2Fstdout",
			InsertId:  fmt.Sprintf("%s-%06d", short, i),
			Timestamp: rfc3339(start.Add(time.Duration(i) * time.Microsecond)),
			Resource: &logging.MonitoredResource{Type: "cloud_run_job",
				Labels: map[string]string{"project_id": p, "location": l, "job_name": n}},
			Labels:      map[string]string{"run.googleapis.com/execution_name": short, "run.googleapis.com/task_index": "0"},
			TextPayload: line,
		})
	}
	j.mu.Unlock()
	c.mutated("Execution", p, l, short, "")
	return doneOp("projects/"+p+"/locations/"+l+"/operations/"+s.uuid(), runExecutionType, ex), nil
}

func (s *Server) getExecution(c *call) (any, *apiError) {
	name := jobPath(c.v("project"), c.v("location"), c.v("job")) + "/executions/" + c.v("execution")
	j := s.jobs()
	j.mu.Lock()
	defer j.mu.Unlock()
	ex, ok := j.executions[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return clone(ex), nil
}

// listLogEntries answers entries.list for the filters the tool writes: resource.type, the job name
// and the execution name label, each as `KEY="VALUE"` joined by AND. Any other term is 400, as an
// unparsable filter is on the real API. resourceNames must name the projects searched.
func (s *Server) listLogEntries(c *call) (any, *apiError) {
	var req logging.ListLogEntriesRequest
	if err := c.decode(&req, true); err != nil {
		return nil, err
	}
	if len(req.ResourceNames) == 0 {
		return nil, errInvalid("resourceNames is required.")
	}
	want := map[string]string{}
	for _, term := range strings.Split(req.Filter, " AND ") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		k, v, ok := strings.Cut(term, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, errInvalid("Unparseable filter: %q.", term)
		}
		want[strings.TrimSpace(k)] = v[1 : len(v)-1]
	}
	projects := map[string]bool{}
	for _, rn := range req.ResourceNames {
		projects[strings.TrimPrefix(rn, "projects/")] = true
	}
	j := s.jobs()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*logging.LogEntry
	for _, e := range j.logs {
		if !projects[e.Resource.Labels["project_id"]] {
			continue
		}
		ok := true
		for k, v := range want {
			var got string
			switch k {
			case "resource.type":
				got = e.Resource.Type
			case `resource.labels.job_name`:
				got = e.Resource.Labels["job_name"]
			case `labels."run.googleapis.com/execution_name"`:
				got = e.Labels["run.googleapis.com/execution_name"]
			default:
				return nil, errInvalid("Unsupported filter field %q in this fake.", k)
			}
			ok = ok && got == v
		}
		if ok {
			out = append(out, clone(e))
		}
	}
	if req.OrderBy == "timestamp desc" {
		for i, k := 0, len(out)-1; i < k; i, k = i+1, k-1 {
			out[i], out[k] = out[k], out[i]
		}
	}
	return &logging.ListLogEntriesResponse{Entries: out}, nil
}
