// Command gkedoctor diagnoses and fixes connectivity failures between Cloud Run (or any VPC client) and
// GKE, and inside GKE. See README.md and `gkedoctor --help`.
package main

import (
	"context"
	"os"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/cli"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/memlimit"
	"github.com/gkedoctor/gkedoctor/internal/sim"
	"github.com/gkedoctor/gkedoctor/tui"
)

func main() {
	memlimit.Start() // a memory budget for the run (see the package)
	cli.TUI = tui.Run
	app.DemoStarter = sim.DemoStarter
	app.DemoWorldStarter = sim.DemoWorldStarter
	os.Exit(cli.Execute(context.Background(), iostreams.System(), os.Args[1:]))
}
