package inventory

import (
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
