package checks

import (
	"context"
	"fmt"

	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// sourceNetwork is the one answer to "which VPC network do a Cloud Run source's packets (and DNS
// queries) enter": its Direct VPC egress network, or its connector's network (a connector on a Shared
// VPC subnet names the host project through its subnet). It returns the full reference
// (projects/P/global/networks/N) and how it was found, for the evidence; "" with no error when the
// source has no VPC access, and the error when the connector could not be read.
func sourceNetwork(ctx context.Context, env *Env, src *Source) (network, how string, err error) {
	project := gref.ProjectOf(src.FullName)
	switch {
	case src.DirectVPC != nil && src.DirectVPC.Network != "":
		n := gref.Network(src.DirectVPC.Network, project)
		return n, fmt.Sprintf("Cloud Run %s uses Direct VPC egress on network %s", src.Name, gref.NetworkName(n)), nil
	case src.DirectVPC != nil:
		n := gref.Network("default", project) // Direct VPC egress with only a subnet: the API fills the network in
		return n, fmt.Sprintf("Cloud Run %s uses Direct VPC egress (no network named: %s)", src.Name, gref.NetworkName(n)), nil
	case src.Connector != "":
		c, err := env.Inv.Connector(ctx, src.Connector)
		if err != nil {
			return "", "", err
		}
		p := gref.ProjectOf(src.Connector)
		if c.Subnet != nil && c.Subnet.ProjectId != "" {
			p = c.Subnet.ProjectId
		}
		n := gref.Network(c.Network, p)
		if n == "" {
			return "", "", fmt.Errorf("connector %s of Cloud Run %s names no network", gref.ShortName(src.Connector), src.Name)
		}
		return n, fmt.Sprintf("Cloud Run %s → connector %s → network %s", src.Name, gref.ShortName(src.Connector), gref.NetworkName(n)), nil
	}
	return "", fmt.Sprintf("Cloud Run %s has no VPC access", src.Name), nil
}
