package fakegcp

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	run "google.golang.org/api/run/v2"
)

const runServiceType = "type.googleapis.com/google.cloud.run.v2.Service"

// runOp is a Cloud Run long-running operation; it is done once doneAt has passed.
type runOp struct {
	name       string
	serviceKey string
	generation int64
	revision   string
	doneAt     time.Time
	done       bool
	validate   *run.GoogleCloudRunV2Service // set for validateOnly: the service as it would be
}

func (s *Server) runRoutes() []route {
	const p = "v2/projects/{project}/locations/{location}/"
	const api = "run"
	return []route{
		r(api, "GET", p+"services", s.listServices),
		r(api, "GET", p+"services/{service}", s.getService),
		r(api, "PATCH", p+"services/{service}", s.patchService),
		r(api, "GET", p+"operations/{operation}", s.getRunOp),
		r(api, "POST", p+"operations/{operation}:wait", s.waitRunOp),
	}
}

func servicePath(project, location, name string) string {
	return "projects/" + project + "/locations/" + location + "/services/" + name
}

// revisionName is the name Cloud Run gives generation gen of a service: NAME-0000N-abc.
func (s *Server) revisionName(service string, gen int64) string {
	return fmt.Sprintf("%s-%05d-%s", service, gen, s.randString(3, lowerAlpha))
}

func readyCondition(state string, now time.Time) *run.GoogleCloudRunV2Condition {
	return &run.GoogleCloudRunV2Condition{Type: "Ready", State: state, LastTransitionTime: rfc3339(now)}
}

// AddRunService seeds (or replaces) a Cloud Run service. svc.Name may be short or the full
// projects/P/locations/L/services/S. Output-only fields are filled when empty: uid, generation 1,
// etag, create/update times, uri, latestCreated/latestReadyRevision (NAME-00001-xxx), a Ready
// terminal condition, and 100% traffic to the latest revision. Nil or unnamed services are ignored.
func (s *Server) AddRunService(project, location string, svc *run.GoogleCloudRunV2Service) {
	if svc == nil || svc.Name == "" {
		return
	}
	svc = clone(svc)
	short := lastSegment(svc.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	now := time.Now()
	svc.Name = servicePath(project, location, short)
	if svc.Uid == "" {
		svc.Uid = s.uuid()
	}
	if svc.Generation == 0 {
		svc.Generation = 1
	}
	if svc.ObservedGeneration == 0 {
		svc.ObservedGeneration = svc.Generation
	}
	if svc.Etag == "" {
		svc.Etag = s.runEtag()
	}
	if svc.CreateTime == "" {
		svc.CreateTime = rfc3339(now)
	}
	if svc.UpdateTime == "" {
		svc.UpdateTime = svc.CreateTime
	}
	if svc.Uri == "" {
		svc.Uri = "https://" + short + "-" + strconv.FormatInt(projectNumber(project), 10) + "." + location + ".run.app"
	}
	if len(svc.Urls) == 0 {
		svc.Urls = []string{svc.Uri}
	}
	if svc.LatestCreatedRevision == "" {
		svc.LatestCreatedRevision = s.revisionName(short, svc.Generation)
	}
	if svc.LatestReadyRevision == "" {
		svc.LatestReadyRevision = svc.LatestCreatedRevision
	}
	if svc.TerminalCondition == nil {
		svc.TerminalCondition = readyCondition("CONDITION_SUCCEEDED", now)
	}
	if len(svc.Traffic) == 0 {
		svc.Traffic = []*run.GoogleCloudRunV2TrafficTarget{{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", Percent: 100}}
	}
	if svc.Template == nil {
		svc.Template = &run.GoogleCloudRunV2RevisionTemplate{}
	}
	if svc.Ingress == "" {
		svc.Ingress = "INGRESS_TRAFFIC_ALL"
	}
	if svc.LaunchStage == "" {
		svc.LaunchStage = "GA"
	}
	s.setTrafficStatuses(svc)
	s.services[key(project, location, short)] = svc
}

// RunService returns a copy of a Cloud Run service (after completing due operations).
func (s *Server) RunService(project, location, name string) (*run.GoogleCloudRunV2Service, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleRunOps()
	svc, ok := s.services[key(project, location, name)]
	return clone(svc), ok
}

func (s *Server) runEtag() string { return `"` + s.randString(22, b64Alpha) + `"` }

// setTrafficStatuses mirrors traffic into trafficStatuses for the latest ready revision.
func (s *Server) setTrafficStatuses(svc *run.GoogleCloudRunV2Service) {
	svc.TrafficStatuses = nil
	for _, t := range svc.Traffic {
		if t == nil {
			continue
		}
		st := &run.GoogleCloudRunV2TrafficTargetStatus{Type: t.Type, Revision: t.Revision, Percent: t.Percent, Tag: t.Tag}
		if t.Type == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST" {
			st.Revision = svc.LatestReadyRevision
		}
		svc.TrafficStatuses = append(svc.TrafficStatuses, st)
	}
}

// settleRunOps completes due operations: the revision they created becomes the latest ready one
// (unless a later update superseded it). Callers hold s.mu.
func (s *Server) settleRunOps() {
	now := time.Now()
	for _, o := range s.runOps {
		if o.done || now.Before(o.doneAt) {
			continue
		}
		o.done = true
		if o.validate != nil {
			continue
		}
		svc, ok := s.services[o.serviceKey]
		if !ok || svc.Generation != o.generation {
			continue
		}
		svc.LatestReadyRevision = o.revision
		svc.ObservedGeneration = svc.Generation
		svc.Reconciling = false
		svc.TerminalCondition = readyCondition("CONDITION_SUCCEEDED", now)
		s.setTrafficStatuses(svc)
	}
}

func (s *Server) listServices(c *call) (any, *apiError) {
	p, l := c.v("project"), c.v("location")
	pre := []string{p, l}
	if l == "-" {
		pre = pre[:1]
	}
	s.mu.Lock()
	s.settleRunOps()
	var items []*run.GoogleCloudRunV2Service
	for _, k := range keysWithPrefix(s.services, pre...) {
		items = append(items, clone(s.services[k]))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "pageSize")
	if err != nil {
		return nil, err
	}
	return &run.GoogleCloudRunV2ListServicesResponse{Services: page, NextPageToken: next}, nil
}

func (s *Server) getService(c *call) (any, *apiError) {
	p, l, n := c.v("project"), c.v("location"), c.v("service")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleRunOps()
	svc, ok := s.services[key(p, l, n)]
	if !ok {
		return nil, errNotFound(servicePath(p, l, n))
	}
	return clone(svc), nil
}

// patchService replaces the service with the body (the API's update: the whole Service). A non-empty
// body etag that differs from the stored one is 409 ABORTED and changes nothing. Success bumps the
// generation, sets a new etag and a new latestCreatedRevision (template.revision if the body names
// one), and returns the operation. latestReadyRevision follows when the operation completes: at
// once, or after the operation delay (meanwhile the service is reconciling). Query parameters
// allowMissing (create when absent) and validateOnly (change nothing) are honoured.
func (s *Server) patchService(c *call) (any, *apiError) {
	body := &run.GoogleCloudRunV2Service{}
	if err := c.decode(body, true); err != nil {
		return nil, err
	}
	p, l, n := c.v("project"), c.v("location"), c.v("service")
	if body.Name != "" && body.Name != servicePath(p, l, n) && body.Name != n {
		return nil, errInvalid("The service name in the body (%s) does not match the URL (%s).", body.Name, servicePath(p, l, n))
	}
	validateOnly := c.query("validateOnly") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleRunOps()
	k := key(p, l, n)
	old, ok := s.services[k]
	if !ok && c.query("allowMissing") != "true" {
		return nil, errNotFound(servicePath(p, l, n))
	}
	if ok && body.Etag != "" && body.Etag != old.Etag {
		return nil, errAborted("The etag of service %s does not match: it was changed by another request. Read it again and retry.", servicePath(p, l, n))
	}
	now := time.Now()
	next := clone(body)
	next.Name = servicePath(p, l, n)
	if ok {
		// Output-only fields come from the stored service, whatever the body says.
		next.Uid, next.CreateTime, next.Creator = old.Uid, old.CreateTime, old.Creator
		next.Uri, next.Urls = old.Uri, old.Urls
		next.Generation = old.Generation + 1
		next.LatestReadyRevision = old.LatestReadyRevision
	} else {
		s.markProject(p)
		next.Uid, next.CreateTime, next.Generation = s.uuid(), rfc3339(now), 1
		next.Uri = "https://" + n + "-" + strconv.FormatInt(projectNumber(p), 10) + "." + l + ".run.app"
		next.Urls = []string{next.Uri}
	}
	if next.Template == nil {
		next.Template = &run.GoogleCloudRunV2RevisionTemplate{}
	}
	if len(next.Traffic) == 0 {
		next.Traffic = []*run.GoogleCloudRunV2TrafficTarget{{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", Percent: 100}}
	}
	rev := next.Template.Revision
	if rev == "" {
		rev = s.revisionName(n, next.Generation)
	} else if !strings.HasPrefix(rev, n+"-") {
		return nil, errInvalid("Revision name %q must start with the service name %q followed by '-'.", rev, n)
	}
	next.Etag = s.runEtag()
	next.UpdateTime = rfc3339(now)
	next.LastModifier = "fakegcp@example.com"
	next.LatestCreatedRevision = rev
	next.ObservedGeneration = next.Generation
	next.Reconciling = true
	next.TerminalCondition = readyCondition("CONDITION_RECONCILING", now)
	next.Conditions = nil
	s.setTrafficStatuses(next)

	id := s.uuid()
	op := &runOp{name: "projects/" + p + "/locations/" + l + "/operations/" + id, serviceKey: k,
		generation: next.Generation, revision: rev, doneAt: now.Add(s.opDelay)}
	if validateOnly {
		op.validate = next
		op.doneAt = now
	} else {
		s.services[k] = next
		c.mutated("Service", p, l, n, "")
	}
	s.runOps[op.name] = op
	s.settleRunOps()
	return s.runOpView(op), nil
}

// runOpView renders an operation: metadata is the service, and response too once done. Callers hold s.mu.
func (s *Server) runOpView(o *runOp) *run.GoogleLongrunningOperation {
	svc := o.validate
	if svc == nil {
		svc = s.services[o.serviceKey]
	}
	out := &run.GoogleLongrunningOperation{Name: o.name, Done: o.done}
	if svc != nil {
		out.Metadata = googleapi.RawMessage(withType(runServiceType, svc))
		if o.done {
			out.Response = out.Metadata
		}
	}
	return out
}

func (s *Server) runOpFor(c *call) (*runOp, *apiError) {
	p, l, id := c.v("project"), c.v("location"), c.v("operation")
	name := "projects/" + p + "/locations/" + l + "/operations/" + id
	o, ok := s.runOps[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return o, nil
}

func (s *Server) getRunOp(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleRunOps()
	o, err := s.runOpFor(c)
	if err != nil {
		return nil, err
	}
	return s.runOpView(o), nil
}

// waitRunOp blocks until the operation is done, the body's timeout (default and cap 60s) passes, or
// the client gives up, then returns the operation.
func (s *Server) waitRunOp(c *call) (any, *apiError) {
	var req run.GoogleLongrunningWaitOperationRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	timeout := time.Minute
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d < 0 {
			return nil, errInvalid("Invalid value for field 'timeout': '%s'.", req.Timeout)
		}
		timeout = min(d, timeout)
	}
	s.mu.Lock()
	s.settleRunOps()
	o, err := s.runOpFor(c)
	var wait time.Duration
	if err == nil && !o.done {
		wait = min(time.Until(o.doneAt), timeout)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.sleep(c.r.Context(), wait)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleRunOps()
	return s.runOpView(o), nil
}
