package inventory

import (
	"context"

	appengine "google.golang.org/api/appengine/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// KeyAppEngine holds the App Engine application, its services and versions.
const KeyAppEngine = "gcp/appengine/"

// AppEngineApp returns a project's App Engine application (404 when the project has none).
func (i *Inventory) AppEngineApp(ctx context.Context, project string) (*appengine.Application, error) {
	return Memo(ctx, i, KeyAppEngine+"app/"+project, func(ctx context.Context) (*appengine.Application, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		a, err := g.AppEngine.Apps.Get(project).Context(ctx).Do()
		return a, gcp.MapWith(err, "get App Engine application", "apps/"+project, "appengine.applications.get")
	})
}

// AppEngineServices lists the services of a project's App Engine application (all pages).
func (i *Inventory) AppEngineServices(ctx context.Context, project string) ([]*appengine.Service, error) {
	return Memo(ctx, i, KeyAppEngine+"services/"+project, func(ctx context.Context) ([]*appengine.Service, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*appengine.Service
		err = g.AppEngine.Apps.Services.List(project).Pages(ctx, func(r *appengine.ListServicesResponse) error {
			out = append(out, r.Services...)
			return nil
		})
		return out, gcp.MapWith(err, "list App Engine services", "apps/"+project, "appengine.services.list")
	})
}

// AppEngineVersions lists the versions of an App Engine service (all pages) in the FULL view, which
// is the one that carries envVariables (the URLs the version calls).
func (i *Inventory) AppEngineVersions(ctx context.Context, project, service string) ([]*appengine.Version, error) {
	name := "apps/" + project + "/services/" + service
	return Memo(ctx, i, KeyAppEngine+"versions/"+name, func(ctx context.Context) ([]*appengine.Version, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*appengine.Version
		err = g.AppEngine.Apps.Services.Versions.List(project, service).View("FULL").Pages(ctx, func(r *appengine.ListVersionsResponse) error {
			out = append(out, r.Versions...)
			return nil
		})
		return out, gcp.MapWith(err, "list App Engine versions", name, "appengine.versions.list")
	})
}

// AppEngineService returns one App Engine service (with its traffic split).
func (i *Inventory) AppEngineService(ctx context.Context, project, service string) (*appengine.Service, error) {
	name := "apps/" + project + "/services/" + service
	return Memo(ctx, i, KeyAppEngine+"service/"+name, func(ctx context.Context) (*appengine.Service, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		s, err := g.AppEngine.Apps.Services.Get(project, service).Context(ctx).Do()
		return s, gcp.MapWith(err, "get App Engine service", name, "appengine.services.get")
	})
}

// AppEngineVersion returns one App Engine version in the FULL view.
func (i *Inventory) AppEngineVersion(ctx context.Context, project, service, version string) (*appengine.Version, error) {
	name := "apps/" + project + "/services/" + service + "/versions/" + version
	return Memo(ctx, i, KeyAppEngine+"version/"+name, func(ctx context.Context) (*appengine.Version, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		v, err := g.AppEngine.Apps.Services.Versions.Get(project, service, version).View("FULL").Context(ctx).Do()
		return v, gcp.MapWith(err, "get App Engine version", name, "appengine.versions.get")
	})
}
