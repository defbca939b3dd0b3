package fakegcp

import (
	"strings"
	"sync"
	"time"

	"google.golang.org/api/googleapi"
	nm "google.golang.org/api/networkmanagement/v1"
)

// Network Management connectivity tests: create (analysed at once by the reachability function the
// demo world or a test sets with SetReachability), get, delete. Without one, a test's result is
// UNDETERMINED, as the real analysis says when it lacks the configuration to decide.

const connectivityTestType = "type.googleapis.com/google.cloud.networkmanagement.v1.ConnectivityTest"

// Reachability analyses one test's source and destination.
type Reachability func(t *nm.ConnectivityTest) *nm.ReachabilityDetails

type connTests struct {
	mu    sync.Mutex
	tests map[string]*nm.ConnectivityTest // full name
	fn    Reachability
}

func (s *Server) connTests() *connTests {
	s.connOnce.Do(func() { s.connState = &connTests{tests: map[string]*nm.ConnectivityTest{}} })
	return s.connState
}

// SetReachability sets how connectivity tests are analysed.
func (s *Server) SetReachability(f Reachability) {
	ct := s.connTests()
	ct.mu.Lock()
	ct.fn = f
	ct.mu.Unlock()
}

// ConnectivityTests lists the tests that exist (full names), for tests asserting cleanup.
func (s *Server) ConnectivityTests() []string {
	ct := s.connTests()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var out []string
	for n := range ct.tests {
		out = append(out, n)
	}
	return out
}

func (s *Server) netmgmtRoutes() []route {
	const p = "v1/projects/{project}/locations/global/"
	return []route{
		r("networkmanagement", "POST", p+"connectivityTests", s.createConnTest),
		r("networkmanagement", "GET", p+"connectivityTests/{test}", s.getConnTest),
		r("networkmanagement", "DELETE", p+"connectivityTests/{test}", s.deleteConnTest),
	}
}

func nmOp(project string, s *Server, v any) *nm.Operation {
	return &nm.Operation{Name: "projects/" + project + "/locations/global/operations/operation-" + s.uuid(), Done: true,
		Response: googleapi.RawMessage(withType(connectivityTestType, v))}
}

func (s *Server) createConnTest(c *call) (any, *apiError) {
	body := &nm.ConnectivityTest{}
	if err := c.decode(body, true); err != nil {
		return nil, err
	}
	p, id := c.v("project"), c.query("testId")
	if id == "" || len(id) > 63 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, errInvalid("testId %q must be 1 to 63 lowercase letters, digits and hyphens.", id)
	}
	if body.Source == nil || body.Destination == nil {
		return nil, errInvalid("A connectivity test needs a source and a destination.")
	}
	name := "projects/" + p + "/locations/global/connectivityTests/" + id
	ct := s.connTests()
	ct.mu.Lock()
	if _, ok := ct.tests[name]; ok {
		ct.mu.Unlock()
		return nil, errAlreadyExists(name)
	}
	fn := ct.fn
	ct.mu.Unlock()
	t := clone(body)
	now := rfc3339(time.Now())
	t.Name, t.CreateTime, t.UpdateTime = name, now, now
	if fn != nil {
		t.ReachabilityDetails = fn(clone(t))
	}
	if t.ReachabilityDetails == nil {
		t.ReachabilityDetails = &nm.ReachabilityDetails{Result: "UNDETERMINED"}
	}
	if t.ReachabilityDetails.VerifyTime == "" {
		t.ReachabilityDetails.VerifyTime = now
	}
	ct.mu.Lock()
	ct.tests[name] = t
	ct.mu.Unlock()
	c.mutated("ConnectivityTest", p, "global", id, "")
	return nmOp(p, s, t), nil
}

func (s *Server) getConnTest(c *call) (any, *apiError) {
	name := "projects/" + c.v("project") + "/locations/global/connectivityTests/" + c.v("test")
	ct := s.connTests()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	t, ok := ct.tests[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return clone(t), nil
}

func (s *Server) deleteConnTest(c *call) (any, *apiError) {
	name := "projects/" + c.v("project") + "/locations/global/connectivityTests/" + c.v("test")
	ct := s.connTests()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	t, ok := ct.tests[name]
	if !ok {
		return nil, errNotFound(name)
	}
	delete(ct.tests, name)
	c.mutated("ConnectivityTest", c.v("project"), "global", c.v("test"), "")
	return nmOp(c.v("project"), s, t), nil
}
