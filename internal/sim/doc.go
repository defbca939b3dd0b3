// Package sim is the demo world: the seed incident of DESIGN.md §4 (seed reports 000, 001 and 004) as
// a stateful, in-process simulation that gkedoctor reaches through the same clients it uses in
// production, and that touches nothing but loopback.
//
// Start builds it from real servers where they exist and careful fakes where none does:
//   - the Google APIs: internal/sim/fakegcp, an HTTP server the real google.golang.org/api clients
//     talk to (GCPEndpoint), seeded with project dev-orchestra: the routes-based GKE cluster
//     dev-orchestra-cluster, network default and its firewall rules and routes, the peering to
//     partner-data/partner-vpc, the Serverless VPC Access connector, the Cloud Run services, the Cloud
//     DNS zones (the GKE-managed cluster-scope zone and the hand-made forwarding zone to the kube-dns
//     ClusterIP) and the IAM policy;
//   - Kubernetes: client-go's fake clientset with the cluster's objects, made to behave like an API
//     server where the checks look (uids, resourceVersions and conflicts, status kept apart from spec,
//     ClusterIP allocation, field selectors, watches that cannot wedge), with TokenRequest,
//     TokenReview, SelfSubjectReview and (Self)SubjectAccessReview answered as kube-apiserver answers
//     them; KubeClient(true) is the same state behind the read-only guard of internal/kube;
//   - DNS: a real DNS server on loopback (internal/sim/fakedns) answering as the VPC resolver
//     169.254.169.254 answers a client in network default, computed from the current Cloud DNS state
//     (Resolver), and a second one answering as the cluster's DNS does for pods;
//   - the network: a dialer (Dialer, DialerFrom) that decides from the current state which source
//     reaches which IP:port — egress setting, connector state, routes, firewall rules, forwarding rules,
//     ClusterIP vs internal LB, peering route exchange, ip-masq-agent — and connects the reachable ones
//     to real loopback listeners playing the backends, while the unreachable ones time out;
//   - the API server's streaming endpoint (ExecURL): 101 for an exec upgrade, 200 for a plain GET
//     that carries upgrade headers, 400 for an exec without them.
//
// Simulated controllers keep the world moving as the real ones do: the service controller gives an
// internal LoadBalancer Service its address (10.132.0.6, then 10.132.0.5) with a forwarding rule and a
// k8s-fw firewall rule; the endpoint-slice controller follows pods; the GKE Cloud DNS controller keeps
// its zone's A records equal to the ClusterIPs, reverts hand edits and follows additive VPC scope;
// Cloud Run rolls a revision when its operation completes; ip-masq-agent picks up its ConfigMap after
// its resync interval; a deleted pod is replaced by its ReplicaSet and started by the kubelet; a new
// legacy token Secret is filled in by the token controller. Their delays scale with Options.Latency
// and are (almost) immediate with 0, as in tests.
//
// The world is ground truth for the checks' tests, so it is written independently of the product's
// own models (it imports checks only for the Target and Dialer types of app.World). Because of that
// import, tests inside package checks cannot import sim; use an external test package there.
package sim
