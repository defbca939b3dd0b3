package fixes

// WebSocketAdvice is advice for websocket-handshake's causes: client code or the path's configuration,
// never applied by the tool (DESIGN §7).
type WebSocketAdvice struct {
	// Kind: shared-client, proxy, protocol.
	Kind     string
	Workload string // kind/ns/name
	Server   string // the API server URL of the kubeconfig
}

// StreamClientCode is the code change for shared-client-stream (kubernetes-client/python#928,
// harbor-framework/harbor PR #1517): a dedicated ApiClient for stream(), used only with connect_*.
const StreamClientCode = `# before: one CoreV1Api shared by every thread, and stream() on it
#   v1 = client.CoreV1Api()
#   stream(v1.connect_get_namespaced_pod_exec, name, ns, command=cmd, stdout=True, stderr=True)
#   v1.read_namespaced_pod(name, ns)          # another thread: goes out as a WebSocket -> "Handshake status 200 OK"
# after: stream() gets its own ApiClient, and only connect_* methods go through stream()
from kubernetes import client, config
from kubernetes.stream import stream

config.load_incluster_config()
rest_api = client.CoreV1Api()                              # plain REST calls, shared as before

def exec_in_pod(name, ns, cmd):
    ws_api = client.CoreV1Api(api_client=client.ApiClient())   # a dedicated client per stream() call
    return stream(ws_api.connect_get_namespaced_pod_exec, name, ns,
                  command=cmd, stdout=True, stderr=True, stdin=False, tty=False)
# never: stream(rest_api.read_namespaced_pod, ...) or stream() around list_*/create_*`

// NewWebSocketAdvice builds the advice plan for one kind.
func NewWebSocketAdvice(a WebSocketAdvice) *Plan {
	p := &Plan{Advice: true, Reversible: true}
	switch a.Kind {
	case "shared-client":
		p.ID = "advice/stream-dedicated-apiclient/" + orWorkload(a.Workload)
		p.Title = "Give stream() its own ApiClient, and use it only with connect_* methods (" + orWorkload(a.Workload) + ")"
		p.Description = "kubernetes.stream.stream() replaces the ApiClient's request method with a WebSocket one while it runs. Any other call on the same ApiClient in that window " +
			"(another thread, an async task) goes out as a WebSocket upgrade to a plain REST endpoint, which answers 200: \"Handshake status 200 OK\". The same happens when stream() wraps " +
			"a non-exec method. Code change (the tool never edits code or images); a lock around stream() calls works too."
		p.Commands = []string{StreamClientCode, "python -c 'import kubernetes; print(kubernetes.__version__)'   # in the pod: note it in the ticket"}
	case "protocol":
		p.ID = "advice/stream-protocol/" + orWorkload(a.Workload)
		p.Title = "Offer v4.channel.k8s.io as well as v5 (or upgrade the cluster to >= 1.30)"
		p.Description = "v5.channel.k8s.io came with Kubernetes 1.30. Python kubernetes >= 36 offers \"v5.channel.k8s.io,v4.channel.k8s.io\"; a client that offers only v5 cannot exec on an older server."
		p.Commands = []string{"pip install 'kubernetes>=36.0.2'", "gcloud container clusters upgrade CLUSTER --master --location LOCATION"}
	default:
		p.ID = "advice/websocket-path/" + a.Server
		p.Title = "Let WebSocket upgrades through to the API server (HTTP/1.1 end to end, or connect directly)"
		p.Description = "The handshake must reach kube-apiserver as HTTP/1.1 with its Connection: Upgrade and Upgrade: websocket headers. A proxy or load balancer in front of " +
			a.Server + " drops them, answers itself (a login page), or speaks HTTP/2 upstream. Connect to the API server directly (the private endpoint from the VPC), route " +
			"through an HTTP CONNECT proxy (kubeconfig proxy-url; Python configuration.proxy), or configure the proxy to pass upgrades."
		p.Commands = []string{
			"kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server} {.clusters[0].cluster.proxy-url}'",
			"gcloud container clusters get-credentials CLUSTER --location LOCATION --internal-ip   # connect to the private endpoint directly",
		}
	}
	if len(p.JudgedAgainst) == 0 {
		p.JudgedAgainst = []string{"the code and pods of " + orDash(a.Workload, "the client") + " only; the API server " + orDash(a.Server, "(unknown)") + " is not changed"}
	}
	return p
}
