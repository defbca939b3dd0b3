package fakegcp

import (
	"time"

	appengine "google.golang.org/api/appengine/v1"
)

// App Engine Admin API v1: an application per project (apps/P), its services (apps/P/services/S, with
// the traffic split) and versions (apps/P/services/S/versions/V). Lists paginate (pageSize,
// pageToken); versions honour view: BASIC (the default) leaves out the fields the API returns only
// with view=FULL (envVariables, buildEnvVariables, handlers, errorHandlers, deployment, libraries,
// apiConfig, defaultExpiration). No project has an application until AddApp: then apps.get answers
// 404 and the lists below it 404 too, as for a project that never ran `gcloud app create`.

type gaeState struct {
	apps     map[string]*appengine.Application // key(project)
	services map[string]*appengine.Service     // key(project, service)
	versions map[string]*appengine.Version     // key(project, service, version)
}

func newGAEState() *gaeState {
	return &gaeState{apps: map[string]*appengine.Application{}, services: map[string]*appengine.Service{},
		versions: map[string]*appengine.Version{}}
}

func (s *Server) appengineRoutes() []route {
	const api = "appengine"
	return []route{
		r(api, "GET", "v1/apps/{app}", s.getApp),
		r(api, "GET", "v1/apps/{app}/services", s.listAppServices),
		r(api, "GET", "v1/apps/{app}/services/{service}", s.getAppService),
		r(api, "GET", "v1/apps/{app}/services/{service}/versions", s.listAppVersions),
		r(api, "GET", "v1/apps/{app}/services/{service}/versions/{version}", s.getAppVersion),
	}
}

// AddApp creates the App Engine application of project in locationID (App Engine's own location
// ids: "europe-west" and "us-central" are the regions europe-west1 and us-central1; the others are
// region names).
func (s *Server) AddApp(project, locationID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.gae.apps[project] = &appengine.Application{Name: "apps/" + project, Id: project, LocationId: locationID,
		ServingStatus: "SERVING", DatabaseType: "CLOUD_FIRESTORE", DefaultHostname: project + ".appspot.com",
		ServiceAccount: project + "@appspot.gserviceaccount.com", GcrDomain: "eu.gcr.io"}
}

// AddAppVersion seeds (or replaces) a version of service in project's application (created in
// "us-central" if there is none). v.Id names it; env defaults to standard and servingStatus to
// SERVING. The service is created with the whole traffic split on its first version.
func (s *Server) AddAppVersion(project, service string, v *appengine.Version) {
	if v == nil || v.Id == "" || service == "" {
		return
	}
	v = clone(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	if s.gae.apps[project] == nil {
		s.gae.apps[project] = &appengine.Application{Name: "apps/" + project, Id: project, LocationId: "us-central", ServingStatus: "SERVING"}
	}
	v.Name = "apps/" + project + "/services/" + service + "/versions/" + v.Id
	if v.Env == "" {
		v.Env = "standard"
	}
	if v.ServingStatus == "" {
		v.ServingStatus = "SERVING"
	}
	if v.CreateTime == "" {
		v.CreateTime = rfc3339(time.Date(2025, 11, 21, 9, 0, 0, 0, time.UTC))
	}
	if v.VersionUrl == "" {
		v.VersionUrl = "https://" + v.Id + "-dot-" + service + "-dot-" + project + ".appspot.com"
	}
	if _, ok := s.gae.services[key(project, service)]; !ok {
		s.gae.services[key(project, service)] = &appengine.Service{Name: "apps/" + project + "/services/" + service, Id: service,
			Split: &appengine.TrafficSplit{Allocations: map[string]float64{v.Id: 1}, ShardBy: "IP"}}
	}
	s.gae.versions[key(project, service, v.Id)] = v
}

// SetAppTraffic sets a service's traffic split (version id → share).
func (s *Server) SetAppTraffic(project, service string, allocations map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc, ok := s.gae.services[key(project, service)]; ok {
		svc.Split = &appengine.TrafficSplit{Allocations: allocations, ShardBy: "IP"}
	}
}

func (s *Server) getApp(c *call) (any, *apiError) {
	p := c.v("app")
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.gae.apps[p]
	if !ok {
		return nil, errNotFound("apps/" + p)
	}
	return clone(a), nil
}

func (s *Server) listAppServices(c *call) (any, *apiError) {
	p := c.v("app")
	s.mu.Lock()
	if _, ok := s.gae.apps[p]; !ok {
		s.mu.Unlock()
		return nil, errNotFound("apps/" + p)
	}
	var items []*appengine.Service
	for _, k := range keysWithPrefix(s.gae.services, p) {
		items = append(items, clone(s.gae.services[k]))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "pageSize")
	if err != nil {
		return nil, err
	}
	return &appengine.ListServicesResponse{Services: page, NextPageToken: next}, nil
}

func (s *Server) getAppService(c *call) (any, *apiError) {
	p, sv := c.v("app"), c.v("service")
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.gae.services[key(p, sv)]
	if !ok {
		return nil, errNotFound("apps/" + p + "/services/" + sv)
	}
	return clone(svc), nil
}

func (s *Server) listAppVersions(c *call) (any, *apiError) {
	p, sv := c.v("app"), c.v("service")
	full := c.query("view") == "FULL"
	s.mu.Lock()
	if _, ok := s.gae.services[key(p, sv)]; !ok {
		s.mu.Unlock()
		return nil, errNotFound("apps/" + p + "/services/" + sv)
	}
	var items []*appengine.Version
	for _, k := range keysWithPrefix(s.gae.versions, p, sv) {
		items = append(items, versionView(s.gae.versions[k], full))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "pageSize")
	if err != nil {
		return nil, err
	}
	return &appengine.ListVersionsResponse{Versions: page, NextPageToken: next}, nil
}

func (s *Server) getAppVersion(c *call) (any, *apiError) {
	p, sv, v := c.v("app"), c.v("service"), c.v("version")
	s.mu.Lock()
	defer s.mu.Unlock()
	ver, ok := s.gae.versions[key(p, sv, v)]
	if !ok {
		return nil, errNotFound("apps/" + p + "/services/" + sv + "/versions/" + v)
	}
	return versionView(ver, c.query("view") == "FULL"), nil
}

// versionView is a copy of v as the API returns it in the BASIC or FULL view.
func versionView(v *appengine.Version, full bool) *appengine.Version {
	out := clone(v)
	if !full {
		out.EnvVariables, out.BuildEnvVariables, out.Handlers, out.ErrorHandlers = nil, nil, nil, nil
		out.Deployment, out.Libraries, out.ApiConfig, out.DefaultExpiration = nil, nil, nil, ""
	}
	return out
}
