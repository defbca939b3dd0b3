package model

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// Model is the run's view of the cluster and its Services. Each part carries the error that kept it
// from being read, so a decision over a part that could not be read says so instead of passing.
type Model struct {
	Scope inventory.Scope
	// Cluster is nil when the container API could not be read; ClusterErr says why.
	Cluster    *Cluster
	ClusterErr error
	// Services is empty (never nil) when the Services could not be listed; ServicesErr says why.
	Services    *Services
	ServicesErr error
}

var slot = inventory.NewSlot[*Model]("model")

// For returns the run's model, built once from the inventory's facts (and again after a fix
// invalidates them).
func For(ctx context.Context, inv *inventory.Inventory) *Model {
	m, _ := inventory.Derive(ctx, inv, slot, func(ctx context.Context) (*Model, error) {
		return build(ctx, inv), nil
	})
	if m == nil { // the build was cut short by ctx: an empty model whose parts say why
		m = &Model{Scope: inv.Scope, ClusterErr: ctx.Err(), ServicesErr: ctx.Err(), Services: NewServices(nil)}
	}
	return m
}

func build(ctx context.Context, inv *inventory.Inventory) *Model {
	m := &Model{Scope: inv.Scope}
	if c, err := inv.Cluster(ctx); err == nil {
		m.Cluster = ClusterFrom(c, inv.Scope.Project)
	} else {
		m.ClusterErr = err
	}
	var svcs *Services
	err := inv.ServicePages(ctx, func(n int) { svcs = NewServicesSized(n) }, func(page []corev1.Service) { svcs.Add(page) })
	if err != nil || svcs == nil {
		// Part of a list is not the cluster's Services: a decision over it would pass on what was
		// never read.
		svcs = NewServices(nil)
	}
	m.Services, m.ServicesErr = svcs, err
	return m
}

// Region is the cluster's region, or the scope's when the cluster could not be read.
func (m *Model) Region() string {
	if m.Cluster != nil && m.Cluster.Region != "" {
		return m.Cluster.Region
	}
	return gref.Region(m.Scope.Location)
}

// Domain is the cluster's DNS domain (cluster.local. when unknown).
func (m *Model) Domain() string {
	if m.Cluster != nil {
		return m.Cluster.Domain
	}
	return DefaultDomain
}

// Classify says in words what an address is: a Service's ClusterIP or load-balancer IP, in the
// services or pod range, or outside the cluster.
func (m *Model) Classify(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown address"
	}
	if o, ok := m.Services.OwnerOf(a, ""); ok {
		switch o.Kind {
		case AddrClusterIP:
			return "ClusterIP of " + o.Ref()
		case AddrInternalLB:
			return "internal load balancer IP of " + o.Ref()
		case AddrExternalLB:
			return "external load balancer IP of " + o.Ref()
		case AddrPodIP:
			return "pod IP of headless Service " + o.Ref()
		}
	}
	c := m.Cluster
	switch {
	case c.IsClusterIP(a):
		return "in the cluster's services range " + c.ServicesCIDR.String() + " (a ClusterIP)"
	case c.IsPodIP(a):
		return "in the cluster's pod range " + c.PodCIDR.String() + " (a pod IP)"
	}
	return "an address outside the cluster's services and pod ranges"
}

// IsClusterIP reports whether a is a ClusterIP: a Service's, or in the services range.
func (m *Model) IsClusterIP(a netip.Addr) bool {
	for _, o := range m.Services.OwnersOf(a) {
		if o.Kind == AddrClusterIP {
			return true
		}
	}
	return m.Cluster.IsClusterIP(a)
}

// ClusterOrScope is the cluster, or when it could not be read a stand-in that holds only what the
// run's scope says (project, location, region; no network, no ranges), so evidence can still name
// them. Decisions that need the cluster's facts check ClusterErr first.
func (m *Model) ClusterOrScope() *Cluster {
	if m.Cluster != nil {
		return m.Cluster
	}
	return &Cluster{Project: m.Scope.Project, NetworkProject: m.Scope.Project, Location: m.Scope.Location,
		Region: gref.Region(m.Scope.Location), Short: m.Scope.Cluster, Domain: DefaultDomain}
}
