package checks

import (
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// TestMain lets every test of package checks share one real kube-apiserver (testenv.Shared), and
// stops it at the end. There can be only one TestMain per package: add to this one, do not add another.
func TestMain(m *testing.M) { testenv.Main(m) }
