package checks

import (
	"context"
	"fmt"

	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// sourceNetwork is the one answer to "which VPC network do a source's packets (and DNS queries) enter"
// for a Cloud Run service or an App Engine version: its Direct VPC egress subnet's network (read from
// the subnetwork, which may be a Shared VPC host's), else the network it names; or its connector's
// network (a connector on a Shared VPC subnet names the host project through its subnet). It returns the full reference
// (projects/P/global/networks/N) and how it was found, for the evidence; "" with no error when the
// source has no VPC access, and the error when the connector could not be read.
func sourceNetwork(ctx context.Context, env *Env, src *Source) (network, how string, err error) {
	project := src.ProjectID()
	switch {
	case src.DirectVPC != nil && src.DirectVPC.Network != "":
		n := gref.Network(src.DirectVPC.Network, project)
		return n, fmt.Sprintf("%s %s uses Direct VPC egress on network %s", src.KindLabel(), src.Name, gref.NetworkName(n)), nil
	case src.DirectVPC != nil && src.DirectVPC.Subnetwork != "":
		// Only a subnet (the API fills the network in): the subnet belongs to exactly one network,
		// possibly a Shared VPC host's (projects/HOST/regions/R/subnetworks/S). Read it, so the
		// setting is compared against the right network, not assumed to be "default".
		sp, sr, sn := gref.SplitSubnetwork(gref.Subnetwork(src.DirectVPC.Subnetwork, project, gref.Region(src.Location)))
		if sp == "" {
			sp = project
		}
		if sr == "" {
			sr = gref.Region(src.Location)
		}
		sub, err := env.Inv.Subnetwork(ctx, sp, sr, sn)
		if err != nil {
			return "", "", fmt.Errorf("Direct VPC egress subnet %s of %s %s: %w", sn, src.KindLabel(), src.Name, err)
		}
		n := gref.Network(sub.Network, sp)
		if n == "" {
			return "", "", fmt.Errorf("subnet %s of %s %s names no network", sn, src.KindLabel(), src.Name)
		}
		return n, fmt.Sprintf("%s %s uses Direct VPC egress on subnet %s (project %s) of network %s", src.KindLabel(), src.Name, sn, sp, gref.NetworkName(n)), nil
	case src.DirectVPC != nil:
		return "", "", fmt.Errorf("Direct VPC egress of %s %s names neither a network nor a subnet", src.KindLabel(), src.Name)
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
			return "", "", fmt.Errorf("connector %s of %s %s names no network", gref.ShortName(src.Connector), src.KindLabel(), src.Name)
		}
		return n, fmt.Sprintf("%s %s → connector %s → network %s", src.KindLabel(), src.Name, gref.ShortName(src.Connector), gref.NetworkName(n)), nil
	}
	return "", fmt.Sprintf("%s %s has no VPC access", src.KindLabel(), src.Name), nil
}
