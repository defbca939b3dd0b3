// Package testenv runs a real kube-apiserver backed by a real etcd on
// loopback for integration tests (DESIGN.md §5, tier 2).
//
// The binaries come from hack/testbin/build.sh, which builds the versions
// pinned in hack/testbin/{kube-apiserver,etcd}/go.mod into a cache; BinDir
// finds them. There is no controller-manager, scheduler or kubelet: tests
// create what those would (the default ServiceAccount, token Secrets, …).
// The server has RBAC on, a static admin token in system:masters, bound
// ServiceAccount tokens signed by a generated key, GKE's default services
// range (34.118.224.0/20), and an audit log of every request at Metadata
// level, written synchronously so a test can read it right after a call.
//
// A test package normally shares one server:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		srv := testenv.Shared(t)
//		ns := srv.NewNamespace(t)
//		...
//	}
//
// Shared skips the test when the binaries are not built, unless
// GKEDOCTOR_REQUIRE_TESTBIN=1, in which case it fails it (make test sets
// that, so CI cannot skip silently). Start runs a private server.
//
// Child processes are in their own process group and, on Linux, get SIGKILL
// when the test binary dies, so nothing outlives a panicking or killed test.
package testenv
