package testenv

import (
	"os"
	"testing"
)

// MainThen is Main with a last word: after the tests (and the shared kube-apiserver's stop), after
// sees the exit code and returns the one to exit with (a package-wide invariant the tests collected).
func MainThen(m *testing.M, after func(code int) int) {
	os.Exit(after(runMain(m)))
}
