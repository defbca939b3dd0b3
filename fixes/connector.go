package fixes

import (
	"fmt"
	"strings"
)

// ConnectorReplacement describes a Serverless VPC Access connector in ERROR and who uses it.
type ConnectorReplacement struct {
	Connector     string   // projects/P/locations/L/connectors/C
	Network       string   // the connector's network
	Range         string   // its /28, when it has one
	Subnet        string   // its subnet, when it uses one instead of a range
	SubnetProject string   // the subnet's project (Shared VPC host), when set
	Services      []string // Cloud Run services that use it: projects/P/locations/L/services/S (or a short name in the connector's project)
	// AppEngine are the App Engine standard versions (SERVICE/VERSION) that use it: each moves with an
	// edited app.yaml and a new deployment.
	AppEngine []string
}

// NewConnectorAdvice is the advice for a connector in ERROR. The API says "Connector is in a bad
// state, manual deletion recommended": it cannot be repaired in place. The safe order is to create a
// new connector, move every service to it, and only then delete the old one; undo is moving the
// services back while the old connector still exists. Nothing here is applied automatically: the new
// connector needs an unused /28 (or a free subnet) that only the network's owner can choose.
func NewConnectorAdvice(o ConnectorReplacement) *Plan {
	project, location, name := splitResource(o.Connector)
	newName := name + "-2"
	if len(newName) > 25 { // connector names are at most 25 characters
		newName = name[:23] + "-2"
	}
	create := fmt.Sprintf("gcloud compute networks vpc-access connectors create %s --region %s --project %s --network %s --range NEW_UNUSED_RANGE/28",
		newName, location, project, o.Network)
	if o.Subnet != "" {
		create = fmt.Sprintf("gcloud compute networks vpc-access connectors create %s --region %s --project %s --subnet NEW_UNUSED_SUBNET", newName, location, project)
		if o.SubnetProject != "" {
			create += " --subnet-project " + o.SubnetProject
		}
	}
	cmds := []string{create}
	var short []string
	for _, s := range o.Services {
		// Each service is updated in its own project; a connector in another project (a Shared VPC
		// host's) is named by its full path there.
		sp, sl, sn := splitResource(s)
		if sp == "" {
			sp = project
		}
		if sl == "" {
			sl = location
		}
		short = append(short, sn)
		conn := newName
		if sp != project {
			conn = "projects/" + project + "/locations/" + location + "/connectors/" + newName
		}
		cmds = append(cmds, fmt.Sprintf("gcloud run services update %s --region %s --project %s --vpc-connector %s", sn, sl, sp, conn))
	}
	for _, v := range o.AppEngine {
		svc, _, _ := strings.Cut(v, "/")
		cmds = append(cmds, fmt.Sprintf("gcloud app deploy app.yaml --project %s   # App Engine %s (service %s): vpc_access_connector.name: projects/%s/locations/%s/connectors/%s", project, v, svc, project, location, newName))
	}
	cmds = append(cmds, fmt.Sprintf("gcloud compute networks vpc-access connectors delete %s --region %s --project %s", name, location, project))
	was := o.Range
	if was == "" {
		was = "subnet " + o.Subnet
	}
	return &Plan{
		ID:    "replace-connector/" + location + "/" + name,
		Title: fmt.Sprintf("Replace the connector %s (ERROR) with a new one, move %s to it, then delete the old one", name, strings.Join(append(short, o.AppEngine...), ", ")),
		Description: fmt.Sprintf("A connector in ERROR cannot be repaired in place. 1) Create %s on an unused /28 (not %s, which the old connector still holds). "+
			"2) Point every service at it (each update makes a new revision). 3) Delete %s only after that. "+
			"To go back before step 3, update the services to --vpc-connector %s again.", newName, was, name, name),
		Advice:     true,
		Reversible: true,
		Commands:   cmds,
		JudgedAgainst: []string{"every user of connector " + name + ": " + orDash(strings.Join(append(short, o.AppEngine...), ", "), "none found"),
			"a new /28 in the connector's network, which must not overlap " + was + " or any other range there"},
	}
}

// splitResource splits projects/P/locations/L/KIND/NAME.
func splitResource(full string) (project, location, name string) {
	parts := strings.Split(full, "/")
	for i := 0; i+1 < len(parts); i++ {
		switch parts[i] {
		case "projects":
			project = parts[i+1]
		case "locations":
			location = parts[i+1]
		}
	}
	name = parts[len(parts)-1]
	return project, location, name
}
