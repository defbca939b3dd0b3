// Package model is the one typed model of the network that every check and fix reads: the cluster
// (its ranges, network and DNS configuration), the Services (indexed by name and by every address
// they answer on, with their exposure and the one internal-load-balancer sibling finder), the
// network (references, subnets, peerings, routes, and the firewall through internal/firewall, the
// one evaluator) and the DNS view. It is built once per run from the inventory's raw API objects and
// rebuilt after a fix invalidates them; no check keeps its own copy of a fact or a rule.
//
// The functions here are pure over API objects, so they are unit-testable without a client; For
// gathers the objects through the inventory.
package model
