package inventory

import (
	"context"

	compute "google.golang.org/api/compute/v1"
	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// ManagedZone returns one Cloud DNS zone.
func (i *Inventory) ManagedZone(ctx context.Context, project, zone string) (*dns.ManagedZone, error) {
	return Memo(ctx, i, KeyDNS+"zone/"+project+"/"+zone, func(ctx context.Context) (*dns.ManagedZone, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		z, err := g.DNS.ManagedZones.Get(project, zone).Context(ctx).Do()
		return z, gcp.Map(err, "get Cloud DNS zone", "projects/"+project+"/managedZones/"+zone)
	})
}

// AllForwardingRules lists the forwarding rules of every region of a project (aggregated list, all
// pages): an A record may point at a load balancer in any region.
func (i *Inventory) AllForwardingRules(ctx context.Context, project string) ([]*compute.ForwardingRule, error) {
	return Memo(ctx, i, KeyFwdRules+project+"/aggregated", func(ctx context.Context) ([]*compute.ForwardingRule, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*compute.ForwardingRule
		err = g.Compute.ForwardingRules.AggregatedList(project).Pages(ctx, func(l *compute.ForwardingRuleAggregatedList) error {
			for _, scoped := range l.Items {
				out = append(out, scoped.ForwardingRules...)
			}
			return nil
		})
		return out, gcp.Map(err, "list forwarding rules", "projects/"+project+"/aggregated/forwardingRules")
	})
}
