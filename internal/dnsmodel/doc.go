// Package dnsmodel predicts, from configuration alone, what the VPC resolver (the metadata server,
// 169.254.169.254) answers a client on a given VPC network for a name: which Cloud DNS zone it uses
// (private zones bound to the network, longest suffix first, forwarding and peering zones included),
// whether Cloud DNS for GKE publishes the cluster's records to the VPC (cluster, VPC or additive VPC
// scope from the container API's dnsConfig), and the answer: the records, NODATA, NXDOMAIN, or
// SERVFAIL for a forwarding zone whose targets the forwarder cannot reach (a ClusterIP, a pod IP of a
// routes-based cluster, a target the firewall closes to 35.199.192.0/19 on port 53).
//
// It also knows the Kubernetes DNS specification's records for a Service (what GKE's Cloud DNS
// controller writes), and how to recognise a zone GKE manages, so that no fix ever writes to one.
//
// Everything here is pure logic over API objects (google.golang.org/api dns/v1, container/v1,
// compute/v1 and k8s.io/api types): no client, no network, so it works from a laptop and is
// table-tested. The checks feed it from internal/inventory; the demo world may answer its DNS
// queries with it.
//
// It follows Cloud DNS's VPC order over every project it is given (view.go): an outbound server
// policy (alternative name servers answer everything), response policy rules (local data answers
// before any zone, bypassResponsePolicy lets resolution continue), private zones from any project
// bound to the network (a hub DNS project, a Shared VPC host), peering zones (continued in the
// target network's view, with a loop guard). What it could not read travels with every prediction
// (Prediction.Incomplete), so a check never passes on an unread view.
package dnsmodel
