package cli

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// startAPIServer starts a real kube-apiserver (and etcd) for the test, stopped at its end. Without
// the test binaries it skips, or fails when GKEDOCTOR_REQUIRE_TESTBIN=1 (as make test sets it).
func startAPIServer(ctx context.Context, t *testing.T) *testenv.APIServer {
	t.Helper()
	srv, err := testenv.Start(ctx, testenv.Options{})
	if errors.Is(err, testenv.ErrNoBinaries) {
		if os.Getenv(testenv.EnvRequireTestBin) == "1" {
			t.Fatal(err)
		}
		t.Skipf("kube-apiserver/etcd test binaries not built: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// gkedoctorRequests are the audit events of the requests gkedoctor made (as the test's admin user)
// after the first `since` events of the server's audit log, and their tally by "VERB RESOURCE".
func gkedoctorRequests(t *testing.T, srv *testenv.APIServer, since int) ([]testenv.AuditEvent, map[string]int) {
	t.Helper()
	events, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	var out []testenv.AuditEvent
	seen := map[string]int{}
	for _, e := range events[since:] {
		if e.User.Username != testenv.AdminUser {
			continue
		}
		res := ""
		if e.ObjectRef != nil {
			res = e.ObjectRef.Resource
		}
		seen[e.Verb+" "+res]++
		out = append(out, e)
	}
	return out, seen
}

// isRead reports whether an audit event is a read (get, list, watch).
func isRead(e testenv.AuditEvent) bool {
	return e.Verb == "get" || e.Verb == "list" || e.Verb == "watch"
}
