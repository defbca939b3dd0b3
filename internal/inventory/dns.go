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

// Permissions the Cloud DNS list calls need; a 403 that does not name one is reported with it.
const (
	PermManagedZonesList        = "dns.managedZones.list"
	PermResponsePoliciesList    = "dns.responsePolicies.list"
	PermResponsePolicyRulesList = "dns.responsePolicyRules.list"
	PermDNSPoliciesList         = "dns.policies.list"
)

// ResponsePolicies lists a project's Cloud DNS response policies (all pages).
func (i *Inventory) ResponsePolicies(ctx context.Context, project string) ([]*dns.ResponsePolicy, error) {
	return Memo(ctx, i, KeyDNS+"responsePolicies/"+project, func(ctx context.Context) ([]*dns.ResponsePolicy, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*dns.ResponsePolicy
		err = g.DNS.ResponsePolicies.List(project).Pages(ctx, func(l *dns.ResponsePoliciesListResponse) error {
			out = append(out, l.ResponsePolicies...)
			return nil
		})
		return out, gcp.MapWith(err, "list Cloud DNS response policies", "projects/"+project+"/responsePolicies", PermResponsePoliciesList)
	})
}

// ResponsePolicyRules lists the rules of one response policy (all pages).
func (i *Inventory) ResponsePolicyRules(ctx context.Context, project, policy string) ([]*dns.ResponsePolicyRule, error) {
	return Memo(ctx, i, KeyDNS+"responsePolicyRules/"+project+"/"+policy, func(ctx context.Context) ([]*dns.ResponsePolicyRule, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*dns.ResponsePolicyRule
		err = g.DNS.ResponsePolicyRules.List(project, policy).Pages(ctx, func(l *dns.ResponsePolicyRulesListResponse) error {
			out = append(out, l.ResponsePolicyRules...)
			return nil
		})
		return out, gcp.MapWith(err, "list response policy rules", "projects/"+project+"/responsePolicies/"+policy+"/rules", PermResponsePolicyRulesList)
	})
}

// DNSPolicies lists a project's Cloud DNS server policies (inbound forwarding, alternative name
// servers), all pages.
func (i *Inventory) DNSPolicies(ctx context.Context, project string) ([]*dns.Policy, error) {
	return Memo(ctx, i, KeyDNS+"policies/"+project, func(ctx context.Context) ([]*dns.Policy, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*dns.Policy
		err = g.DNS.Policies.List(project).Pages(ctx, func(l *dns.PoliciesListResponse) error {
			out = append(out, l.Policies...)
			return nil
		})
		return out, gcp.MapWith(err, "list Cloud DNS server policies", "projects/"+project+"/policies", PermDNSPoliciesList)
	})
}
