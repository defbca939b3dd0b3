package checks

import (
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// tokenEnvInv is an inventory with no cluster (workload discovery skips; probes still run).
func tokenEnvInv() *inventory.Inventory { return inventory.New(inventory.Scope{}, nil, nil, nil, nil) }
