package triage

import (
	"slices"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/checks"
)

// Each case is an error text as the language's own runtime or library prints it (Python requests /
// urllib3 / websocket-client / kubernetes / socket, Go net/http / net.DNSError / client-go, Java's
// java.net exceptions, curl -v), for one signature of the catalogue.
type tcase struct {
	name, lang string
	text       string
	sigs       []string // signature ids that must match
	not        []string // signature ids that must not match
	checks     []string // exactly these checks, in order (nil: not asserted)
	services   []string
	hosts      []string
	ips        []string
	ports      []int
	codes      []int
	sas        []string
	pods       []string
	flags      []string // exactly these target flags (nil: not asserted)
}

var cases = []tcase{
	// --- connect timeouts (clusterip-unreachable, dns-stale-record, pod-egress-cross-project)
	{name: "requests ConnectTimeout to a ClusterIP", lang: "python", text: `Traceback (most recent call last):
  File "/usr/local/lib/python3.11/site-packages/urllib3/connection.py", line 203, in _new_conn
    sock = connection.create_connection(
TimeoutError: timed out

The above exception was the direct cause of the following exception:

urllib3.exceptions.ConnectTimeoutError: (<urllib3.connection.HTTPConnection object at 0x7f3b2c1d5e10>, 'Connection to 34.118.231.33 timed out. (connect timeout=10)')

The above exception was the direct cause of the following exception:

urllib3.exceptions.MaxRetryError: HTTPConnectionPool(host='34.118.231.33', port=80): Max retries exceeded with url: /api/status (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at 0x7f3b2c1d5e10>, 'Connection to 34.118.231.33 timed out. (connect timeout=10)'))

During handling of the above exception, another exception occurred:

requests.exceptions.ConnectTimeout: HTTPConnectionPool(host='34.118.231.33', port=80): Max retries exceeded with url: /api/status (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at 0x7f3b2c1d5e10>, 'Connection to 34.118.231.33 timed out. (connect timeout=10)'))`,
		sigs: []string{"connect-timeout-clusterip"}, not: []string{"connect-timeout-address", "connect-timeout-peer", "connect-timeout-named-record"},
		checks: []string{"clusterip-unreachable"}, ips: []string{"34.118.231.33"}, ports: []int{80}, flags: []string{}},
	{name: "Go dial i/o timeout to a ClusterIP", lang: "go", text: `2024/06/04 10:02:11 call environment-manager: Post "http://34.118.233.158:80/v1/tasks": dial tcp 34.118.233.158:80: i/o timeout`,
		sigs: []string{"connect-timeout-clusterip"}, checks: []string{"clusterip-unreachable"}, ips: []string{"34.118.233.158"}, ports: []int{80}},
	{name: "Java connect timed out to a cluster name", lang: "java", text: `java.net.SocketTimeoutException: Connect timed out
	at java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)
	at java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:597)
	at java.base/java.net.Socks4SocketImpl.connect(SocksSocketImpl.java:327)
	at java.base/java.net.Socket.connect(Socket.java:633)
	at org.apache.http.conn.socket.PlainConnectionSocketFactory.connectSocket(PlainConnectionSocketFactory.java:75)
Wrapped by: org.apache.http.conn.ConnectTimeoutException: Connect to development-agent.default.svc.cluster.local:80 [development-agent.default.svc.cluster.local/34.118.231.33] failed: Connect timed out`,
		sigs: []string{"connect-timeout-clusterip"}, not: []string{"connect-timeout-named-record"},
		checks: []string{"clusterip-unreachable"}, services: []string{"default/development-agent"},
		hosts: []string{"development-agent.default.svc.cluster.local"}, ports: []int{80},
		flags: []string{"--service", "default/development-agent"}},
	{name: "curl -v connection timed out to a ClusterIP", lang: "curl", text: `*   Trying 34.118.231.33:80...
* connect to 34.118.231.33 port 80 failed: Connection timed out
* Failed to connect to development-agent.default.svc.cluster.local port 80 after 130724 ms: Couldn't connect to server
* Closing connection
curl: (28) Failed to connect to development-agent.default.svc.cluster.local port 80 after 130724 ms: Couldn't connect to server`,
		sigs: []string{"connect-timeout-clusterip"}, checks: []string{"clusterip-unreachable"},
		services: []string{"default/development-agent"}, ips: []string{"34.118.231.33"}, ports: []int{80}},
	{name: "requests ConnectTimeout to an internal LB IP (seed 000)", lang: "python", text: `requests.exceptions.ConnectTimeout: HTTPConnectionPool(host='10.132.0.6', port=80): Max retries exceeded with url: /message/send (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at 0x7f0c1a2b3c40>, 'Connection to 10.132.0.6 timed out. (connect timeout=5)'))`,
		sigs: []string{"connect-timeout-address", "connect-timeout-peer"}, not: []string{"connect-timeout-clusterip"},
		checks: []string{"clusterip-unreachable", "pod-egress-cross-project"}, ips: []string{"10.132.0.6"},
		flags: []string{"--peer", "10.132.0.6:80"}},
	{name: "Go connect: connection timed out to a peered address", lang: "go", text: `Get "http://10.2.0.1:8080/healthz": dial tcp 10.2.0.1:8080: connect: connection timed out`,
		sigs: []string{"connect-timeout-address", "connect-timeout-peer"}, checks: []string{"clusterip-unreachable", "pod-egress-cross-project"},
		flags: []string{"--peer", "10.2.0.1:8080"}},
	{name: "Java ConnectException to a peered address", lang: "java", text: `java.net.ConnectException: Connection timed out
	at java.base/sun.nio.ch.Net.connect0(Native Method)
	at java.base/sun.nio.ch.Net.connect(Net.java:579)
	at java.base/java.net.Socket.connect(Socket.java:633)
	at java.base/sun.net.NetworkClient.doConnect(NetworkClient.java:178)
	at java.base/sun.net.www.http.HttpClient.openServer(HttpClient.java:533)
	at java.base/sun.net.www.protocol.http.HttpURLConnection.connect(HttpURLConnection.java:1124)
Caused by: calling http://10.2.0.1:5432/ready`,
		sigs: []string{"connect-timeout-address", "connect-timeout-peer"}, flags: []string{"--peer", "10.2.0.1:5432"}},
	{name: "curl timeout to a name the client owns", lang: "curl", text: `*   Trying 10.132.0.9:80...
* Connection timed out after 10001 milliseconds
* Closing connection 0
curl: (28) Connection timed out after 10001 milliseconds
> GET / HTTP/1.1
> Host: api.svc.internal.example.com`,
		sigs:   []string{"connect-timeout-named-record", "connect-timeout-name", "connect-timeout-address"},
		checks: []string{"clusterip-unreachable", "dns-stale-record", "pod-egress-cross-project"},
		hosts:  []string{"10.132.0.9", "api.svc.internal.example.com"}[1:],
		flags:  []string{"--dns-name", "api.svc.internal.example.com", "--peer", "10.132.0.9:80"}},
	{name: "Go timeout to a named host", lang: "go", text: `Get "http://api.svc.internal.example.com/": dial tcp 10.132.0.9:80: i/o timeout (Client.Timeout exceeded while awaiting headers)`,
		sigs: []string{"connect-timeout-named-record", "connect-timeout-name"}, hosts: []string{"api.svc.internal.example.com"}},
	{name: "Python timeout to a named host", lang: "python", text: `requests.exceptions.ConnectTimeout: HTTPConnectionPool(host='api.svc.internal.example.com', port=80): Max retries exceeded with url: / (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at 0x7f52e0c8b250>, 'Connection to api.svc.internal.example.com timed out. (connect timeout=3)'))`,
		sigs: []string{"connect-timeout-named-record", "connect-timeout-name"}, not: []string{"connect-timeout-address"},
		checks: []string{"clusterip-unreachable", "dns-stale-record"}, hosts: []string{"api.svc.internal.example.com"}},
	{name: "Java timeout to a named host", lang: "java", text: `org.apache.http.conn.ConnectTimeoutException: Connect to api.svc.internal.example.com:443 [api.svc.internal.example.com/10.132.0.9] failed: connect timed out`,
		sigs: []string{"connect-timeout-named-record"}, hosts: []string{"api.svc.internal.example.com"}},

	// --- DNS (dns-servfail)
	{name: "socket.gaierror -2", lang: "python", text: `Traceback (most recent call last):
  File "/usr/local/lib/python3.11/site-packages/urllib3/connection.py", line 174, in _new_conn
    conn = connection.create_connection(
  File "/usr/local/lib/python3.11/site-packages/urllib3/util/connection.py", line 72, in create_connection
    for res in socket.getaddrinfo(host, port, family, socket.SOCK_STREAM):
  File "/usr/local/lib/python3.11/socket.py", line 962, in getaddrinfo
    for res in _socket.getaddrinfo(host, port, family, type, proto, flags):
socket.gaierror: [Errno -2] Name or service not known

urllib3.exceptions.NewConnectionError: <urllib3.connection.HTTPConnection object at 0x7fa1b8e2c550>: Failed to establish a new connection: [Errno -2] Name or service not known

requests.exceptions.ConnectionError: HTTPConnectionPool(host='development-agent.default.svc.cluster.local', port=80): Max retries exceeded with url: /.well-known/agent.json (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7fa1b8e2c550>: Failed to establish a new connection: [Errno -2] Name or service not known'))`,
		sigs: []string{"dns-nxdomain"}, not: []string{"dns-unresolved", "dns-eai-again"},
		checks: []string{"dns-servfail"}, services: []string{"default/development-agent"},
		flags: []string{"--service", "default/development-agent", "--dns-name", "development-agent.default.svc.cluster.local"}},
	{name: "Java UnknownHostException Name or service not known", lang: "java", text: `java.net.UnknownHostException: environment-manager.default.svc.cluster.local: Name or service not known
	at java.base/java.net.Inet6AddressImpl.lookupAllHostAddr(Native Method)
	at java.base/java.net.InetAddress$PlatformNameService.lookupAllHostAddr(InetAddress.java:934)
	at java.base/java.net.InetAddress.getAddressesFromNameService(InetAddress.java:1543)`,
		sigs: []string{"dns-nxdomain"}, not: []string{"dns-unresolved"}, services: []string{"default/environment-manager"}},
	{name: "Go net.DNSError no such host", lang: "go", text: `Get "http://development-agent.default.svc.cluster.local/": dial tcp: lookup development-agent.default.svc.cluster.local on 169.254.169.254:53: no such host`,
		sigs: []string{"dns-no-such-host"}, not: []string{"connect-timeout-address", "connect-timeout-clusterip"},
		checks: []string{"dns-servfail"}, services: []string{"default/development-agent"}},
	{name: "curl could not resolve host", lang: "curl", text: `* Could not resolve host: development-agent.default.svc.cluster.local
* Closing connection 0
curl: (6) Could not resolve host: development-agent.default.svc.cluster.local`,
		sigs: []string{"dns-unresolved"}, checks: []string{"dns-servfail"}, services: []string{"default/development-agent"}},
	{name: "gaierror -3 temporary failure", lang: "python", text: `socket.gaierror: [Errno -3] Temporary failure in name resolution

urllib3.exceptions.NameResolutionError: <urllib3.connection.HTTPConnection object at 0x7f8e4c0d1f90>: Failed to resolve 'development-agent.default.svc.cluster.local' ([Errno -3] Temporary failure in name resolution)`,
		sigs: []string{"dns-eai-again"}, not: []string{"dns-unresolved", "dns-nxdomain"}, hosts: []string{"development-agent.default.svc.cluster.local"}},
	{name: "Go server misbehaving", lang: "go", text: `dial tcp: lookup development-agent.default.svc.cluster.local on 169.254.169.254:53: server misbehaving`,
		sigs: []string{"dns-eai-again"}, ips: []string{"169.254.169.254"}},
	{name: "Go lookup timeout", lang: "go", text: `lookup environment-manager.default.svc.cluster.local on 10.132.0.2:53: read udp 10.132.0.7:41234->10.132.0.2:53: i/o timeout`,
		sigs: []string{"dns-eai-again"}, not: []string{"connect-timeout-address", "connect-timeout-peer"}},
	{name: "Java UnknownHostException temporary failure", lang: "java", text: `java.net.UnknownHostException: development-agent.default.svc.cluster.local: Temporary failure in name resolution`,
		sigs: []string{"dns-eai-again"}, not: []string{"dns-unresolved"}},
	{name: "dig SERVFAIL", lang: "dig", text: `; <<>> DiG 9.18.24 <<>> development-agent.default.svc.cluster.local
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 51832
;; flags: qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1

;; QUESTION SECTION:
;development-agent.default.svc.cluster.local. IN	A

;; Query time: 4012 msec
;; SERVER: 169.254.169.254#53(169.254.169.254) (UDP)`,
		sigs: []string{"dns-servfail"}, checks: []string{"dns-servfail"}, services: []string{"default/development-agent"}},
	{name: "gaierror -5 no address", lang: "python", text: `socket.gaierror: [Errno -5] No address associated with hostname`,
		sigs: []string{"dns-nodata"}, checks: []string{"dns-servfail"}},
	{name: "Java UnknownHostException no address", lang: "java", text: `java.net.UnknownHostException: api.svc.internal.example.com: No address associated with hostname`,
		sigs: []string{"dns-nodata"}, flags: []string{"--dns-name", "api.svc.internal.example.com"}},
	{name: "Java bare UnknownHostException", lang: "java", text: `java.net.UnknownHostException: development-agent.default.svc.cluster.local
	at java.base/java.net.InetAddress$CachedAddresses.get(InetAddress.java:801)`,
		sigs: []string{"dns-unresolved"}},

	// --- 401 vs 403 (sa-token-401)
	{name: "kubernetes ApiException 401 (seed 000)", lang: "python", text: `kubernetes.client.exceptions.ApiException: (401)
Reason: Unauthorized
HTTP response headers: HTTPHeaderDict({'Audit-Id': '4b1e3c2a-1f0e-4d5c-9b8a-7e6f5d4c3b2a', 'Cache-Control': 'no-cache, private', 'Content-Type': 'application/json', 'Date': 'Tue, 04 Jun 2024 10:02:11 GMT', 'Content-Length': '129'})
HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`,
		sigs: []string{"token-401"}, not: []string{"rbac-403"}, checks: []string{"sa-token-401"}, codes: []int{401}},
	{name: "client-go must be logged in", lang: "go", text: `E0604 10:02:11.123456   12345 memcache.go:265] couldn't get current server API group list: the server has asked for the client to provide credentials
error: You must be logged in to the server (the server has asked for the client to provide credentials)`,
		sigs: []string{"token-401"}, checks: []string{"sa-token-401"}},
	{name: "Java fabric8 401", lang: "java", text: `io.fabric8.kubernetes.client.KubernetesClientException: Failure executing: GET at: https://34.118.224.1/api/v1/namespaces/default/pods/environment-manager-7d9f8b6c5-x2x4q. Message: Unauthorized. Received status: Status(apiVersion=v1, code=401, details=null, kind=Status, message=Unauthorized, metadata=ListMeta(_continue=null, remainingItemCount=null, resourceVersion=null, selfLink=null, additionalProperties={}), reason=Unauthorized, status=Failure, additionalProperties={}).`,
		sigs: []string{"token-401"}, pods: []string{"default/environment-manager-7d9f8b6c5-x2x4q"},
		flags: []string{"--workload", "pod/default/environment-manager-7d9f8b6c5-x2x4q"}},
	{name: "curl -v 401", lang: "curl", text: `> GET /api/v1/namespaces/default/pods HTTP/1.1
> Host: 34.118.224.1
> Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IkRFTU8ifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpvcmNoZXN0cmFpLXNhIn0.c2lnbmF0dXJl
>
< HTTP/1.1 401 Unauthorized
< Content-Type: application/json
{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`,
		sigs: []string{"token-401"}, codes: []int{401}},
	{name: "TokenReview SA UID mismatch", lang: "go", text: `status.error: [invalid bearer token, service account UID (0d6c5b4a-3f2e-4d1c-9b8a-7e6f5d4c3b2a) does not match claim (9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d)]`,
		sigs: []string{"token-sa-uid-mismatch"}, checks: []string{"sa-token-401"}},
	{name: "pod UID mismatch", lang: "go", text: `E0604 10:02:11.654321       1 authentication.go:73] "Unable to authenticate the request" err="[invalid bearer token, pod UID (5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f) does not match claim (e4f3d2c1-b0a9-4877-a665-544332211000)]"`,
		sigs: []string{"token-pod-uid-mismatch"}},
	{name: "legacy token invalidated", lang: "go", text: `"Unable to authenticate the request" err="[invalid bearer token, Token has been invalidated]"`,
		sigs: []string{"token-invalidated"}},
	{name: "python 36.0.0 anonymous 403", lang: "python", text: `kubernetes.client.exceptions.ApiException: (403)
Reason: Forbidden
HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}`,
		sigs: []string{"token-anonymous"}, not: []string{"rbac-403", "token-401"}, codes: []int{403}},
	{name: "python 403 RBAC", lang: "python", text: `kubernetes.client.exceptions.ApiException: (403)
Reason: Forbidden
HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"system:serviceaccount:default:orchestrai-sa\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}`,
		sigs: []string{"rbac-403"}, not: []string{"token-401", "token-anonymous"}, sas: []string{"default/orchestrai-sa"}, codes: []int{403}},
	{name: "kubectl 403 RBAC", lang: "go", text: `Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:orchestrai-sa" cannot list resource "pods" in API group "" in the namespace "kube-system"`,
		sigs: []string{"rbac-403"}, sas: []string{"default/orchestrai-sa"}},
	{name: "Java fabric8 403", lang: "java", text: `io.fabric8.kubernetes.client.KubernetesClientException: Failure executing: GET at: https://34.118.224.1/api/v1/namespaces/kube-system/pods. Message: Forbidden!Configured service account doesn't have access. Service account may have been revoked. pods is forbidden: User "system:serviceaccount:default:orchestrai-sa" cannot list resource "pods" in API group "" in the namespace "kube-system".`,
		sigs: []string{"rbac-403"}, sas: []string{"default/orchestrai-sa"}},
	{name: "curl -v 403", lang: "curl", text: `< HTTP/2 403
< content-type: application/json
{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods is forbidden: User \"system:serviceaccount:default:orchestrai-sa\" cannot list resource \"pods\" in API group \"\" at the cluster scope","reason":"Forbidden","code":403}`,
		sigs: []string{"rbac-403"}, codes: []int{403}},

	// --- WebSocket exec (websocket-handshake)
	{name: "websocket-client handshake 200 (seed 000)", lang: "python", text: `Traceback (most recent call last):
  File "/app/environment_manager/pods.py", line 57, in exec_in_pod
    resp = stream(v1.connect_get_namespaced_pod_exec, pod, "default", command=cmd, stderr=True, stdin=False, stdout=True, tty=False)
  File "/usr/local/lib/python3.11/site-packages/kubernetes/stream/ws_client.py", line 518, in websocket_call
    raise ApiException(status=0, reason=str(e))
kubernetes.client.exceptions.ApiException: (0)
Reason: Handshake status 200 OK -+-+- {'audit-id': '1c2d3e4f', 'content-type': 'application/json'} -+-+- b'{"kind":"Pod","apiVersion":"v1"}'
websocket._exceptions.WebSocketBadStatusException: Handshake status 200 OK`,
		sigs: []string{"ws-handshake-200"}, not: []string{"ws-bad-status"}, checks: []string{"websocket-handshake"}, codes: []int{200}},
	{name: "python exec without stream", lang: "python", text: `kubernetes.client.exceptions.ApiException: (400)
Reason: Bad Request
HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Upgrade request required","reason":"BadRequest","code":400}`,
		sigs: []string{"ws-upgrade-required"}, checks: []string{"websocket-handshake"}, codes: []int{400}},
	{name: "Go upgrade required behind a proxy", lang: "go", text: `error: unable to upgrade connection: Upgrade request required`,
		sigs: []string{"ws-upgrade-required"}, not: []string{"ws-bad-status"}},
	{name: "websocket-client handshake 403", lang: "python", text: `websocket._exceptions.WebSocketBadStatusException: Handshake status 403 Forbidden -+-+- {'content-type': 'application/json'} -+-+- b'{"kind":"Status","message":"pods \"environment-manager-0\" is forbidden: User \"system:serviceaccount:default:orchestrai-sa\" cannot get resource \"pods/exec\" in API group \"\" in the namespace \"default\"","code":403}'`,
		sigs: []string{"ws-handshake-403", "ws-exec-forbidden", "rbac-403"}, checks: []string{"sa-token-401", "websocket-handshake"}},
	{name: "kubectl exec forbidden", lang: "go", text: `Error from server (Forbidden): pods "environment-manager-0" is forbidden: User "system:serviceaccount:default:orchestrai-sa" cannot create resource "pods/exec" in API group "" in the namespace "default"`,
		sigs: []string{"ws-exec-forbidden"}},
	{name: "Java websocket bad handshake", lang: "java", text: `io.fabric8.kubernetes.client.KubernetesClientException: Upgrade request required
	at io.fabric8.kubernetes.client.dsl.internal.core.v1.PodOperationsImpl.exec(PodOperationsImpl.java:412)`,
		sigs: []string{"ws-upgrade-required"}},
	{name: "curl -v exec answered 200", lang: "curl", text: `> GET /api/v1/namespaces/default/pods/environment-manager-0/exec?command=ls&stdout=true HTTP/1.1
> Host: 34.118.224.1
> Connection: Upgrade
> Upgrade: websocket
> Sec-WebSocket-Version: 13
>
< HTTP/1.1 200 OK
< Content-Type: text/html
Handshake status 200 OK`,
		sigs: []string{"ws-handshake-200"}, codes: []int{200}},
	{name: "Go gorilla bad handshake", lang: "go", text: `dial wss://34.118.224.1/api/v1/namespaces/default/pods/environment-manager-0/exec?command=sh: websocket: bad handshake`,
		sigs: []string{"ws-bad-status"}, pods: []string{"default/environment-manager-0"},
		flags: []string{"--workload", "pod/default/environment-manager-0"}},

	// --- Cloud Service Mesh (mesh-trafficdirector-role), seed 001
	{name: "Envoy getConfigs denied", lang: "envoy", text: `StreamAggregatedResources gRPC config stream to trafficdirector.googleapis.com:443 closed: 7, Permission 'trafficdirector.networks.getConfigs' denied on resource '//trafficdirector.googleapis.com/projects/525300120045/networks/mesh:test-mesh/nodes/003fb3e0c8927482' (or it may not exist).`,
		sigs: []string{"trafficdirector-getconfigs-denied"}, checks: []string{"mesh-trafficdirector-role"}},

	// --- Knative gateway (knative-gateway-address), seed 002
	{name: "Knative waiting for load balancer", lang: "kubectl", text: `  - lastTransitionTime: "2024-06-04T10:02:11Z"
    message: Waiting for load balancer to be ready
    reason: Uninitialized
    status: Unknown
    type: LoadBalancerReady`,
		sigs: []string{"knative-waiting-for-lb"}, checks: []string{"knative-gateway-address"}},
	{name: "Cloud Run for Anthos waiting for Gateway IP", lang: "kubectl", text: `- lastTransitionTime: "2020-08-29T06:52:45Z"
  message: Waiting for Gateway IP
  reason: GatewayNotReady
  status: Unknown
  type: Ready`,
		sigs: []string{"knative-waiting-for-lb"}},
}

func TestAnalyze(t *testing.T) {
	cat := checks.Catalogue()
	for _, c := range cases {
		t.Run(c.lang+"/"+c.name, func(t *testing.T) {
			r := Analyze(c.text, cat)
			var got []string
			for _, m := range r.Matches {
				got = append(got, m.Signature)
				if m.Quote == "" || m.Why == "" || len(m.Causes) == 0 {
					t.Errorf("match %s lacks a quote, why or causes: %+v", m.Signature, m)
				}
				for _, cs := range m.Causes {
					if cs.Title == "" {
						t.Errorf("match %s: cause %s has no title", m.Signature, cs.ID)
					}
				}
			}
			for _, s := range c.sigs {
				if !slices.Contains(got, s) {
					t.Errorf("signature %s did not match; matched %v", s, got)
				}
			}
			for _, s := range c.not {
				if slices.Contains(got, s) {
					t.Errorf("signature %s matched but must not; matched %v", s, got)
				}
			}
			if c.checks != nil && !slices.Equal(r.Checks, c.checks) {
				t.Errorf("checks = %v, want %v", r.Checks, c.checks)
			}
			sub := func(what string, have, want []string) {
				for _, w := range want {
					if !slices.Contains(have, w) {
						t.Errorf("%s = %v, want it to hold %s", what, have, w)
					}
				}
			}
			sub("services", r.Found.Services, c.services)
			sub("hosts", r.Found.Hosts, c.hosts)
			sub("ips", r.Found.IPs, c.ips)
			sub("service accounts", r.Found.ServiceAccounts, c.sas)
			sub("pods", r.Found.Pods, c.pods)
			for _, p := range c.ports {
				if !slices.Contains(r.Found.Ports, p) {
					t.Errorf("ports = %v, want %d", r.Found.Ports, p)
				}
			}
			for _, code := range c.codes {
				if !slices.Contains(r.Found.StatusCodes, code) {
					t.Errorf("status codes = %v, want %d", r.Found.StatusCodes, code)
				}
			}
			if c.flags != nil {
				if got := r.Targets.Flags(); !slices.Equal(got, c.flags) && (len(got) != 0 || len(c.flags) != 0) {
					t.Errorf("flags = %q, want %q", got, c.flags)
				}
			}
		})
	}
}

// Every signature of the catalogue has a real error text that matches it, and the connect-timeout,
// DNS, token and WebSocket signatures have one per language (Python, Go, Java, curl) where that
// language prints the error.
func TestEverySignatureHasARealText(t *testing.T) {
	byLang := map[string]map[string]bool{}
	for _, c := range cases {
		for _, s := range c.sigs {
			if byLang[s] == nil {
				byLang[s] = map[string]bool{}
			}
			byLang[s][c.lang] = true
		}
	}
	for _, i := range checks.Catalogue() {
		for _, s := range i.Signatures {
			if len(byLang[s.ID]) == 0 {
				t.Errorf("%s/%s: no test case with a real error text", i.ID, s.ID)
			}
		}
	}
	for _, fam := range [][]string{
		{"connect-timeout-clusterip", "connect-timeout-address", "connect-timeout-peer", "connect-timeout-named-record", "connect-timeout-name"},
		{"dns-nxdomain", "dns-no-such-host", "dns-eai-again", "dns-servfail", "dns-nodata", "dns-unresolved"},
		{"token-401", "token-sa-uid-mismatch", "token-pod-uid-mismatch", "token-invalidated", "token-anonymous", "rbac-403"},
		{"ws-handshake-200", "ws-upgrade-required", "ws-handshake-403", "ws-exec-forbidden", "ws-bad-status"},
	} {
		langs := map[string]bool{}
		for _, s := range fam {
			for l := range byLang[s] {
				langs[l] = true
			}
		}
		for _, l := range []string{"python", "go", "java"} {
			if !langs[l] {
				t.Errorf("%s…: no %s text", fam[0], l)
			}
		}
	}
}

func TestUnknownTextIsNotGuessed(t *testing.T) {
	for _, text := range []string{
		"",
		"everything is fine",
		`Traceback (most recent call last):
  File "/app/main.py", line 3, in <module>
    import numpy
ModuleNotFoundError: No module named 'numpy'`,
		`panic: runtime error: index out of range [3] with length 3`,
		`java.lang.NullPointerException: Cannot invoke "String.length()" because "s" is null`,
		`< HTTP/1.1 200 OK`, // a successful response is no error
	} {
		r := Analyze(text, checks.Catalogue())
		if r.Recognised() || len(r.Checks) != 0 {
			t.Errorf("%q: recognised %+v", text, r.Matches)
		}
	}
}

func TestQuoteIsOneRedactedLine(t *testing.T) {
	text := "> Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IkRFTU8ifQ.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl (401) Unauthorized\nnext line"
	r := Analyze(text, checks.Catalogue())
	if len(r.Matches) == 0 {
		t.Fatal("no match")
	}
	q := r.Matches[0].Quote
	if strings.Contains(q, "eyJhbGci") || strings.Contains(q, "\n") || strings.Contains(q, "next line") {
		t.Errorf("quote %q carries the token or more than its line", q)
	}
	long := strings.Repeat("x", 500) + " Handshake status 200 OK " + strings.Repeat("y", 500)
	r = Analyze(long, checks.Catalogue())
	if q := r.Matches[0].Quote; len(q) > 200 || !strings.Contains(q, "Handshake status 200 OK") {
		t.Errorf("quote of a long line: %d chars %q", len(q), q)
	}
}

func TestURLsLoseUserInfoAndQuery(t *testing.T) {
	f := Extract(`Get "https://admin:hunter2@api.svc.internal.example.com:8443/x?token=abc": dial tcp 10.132.0.9:8443: i/o timeout`)
	for _, u := range f.URLs {
		if strings.Contains(u, "hunter2") || strings.Contains(u, "token=") {
			t.Errorf("url %q keeps a secret", u)
		}
	}
	if !slices.Contains(f.Hosts, "api.svc.internal.example.com") || !slices.Contains(f.Ports, 8443) {
		t.Errorf("hosts %v ports %v", f.Hosts, f.Ports)
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, c := range cases {
		f.Add(c.text)
	}
	cat := checks.Catalogue()
	f.Fuzz(func(t *testing.T, text string) {
		r := Analyze(text, cat)
		for _, p := range r.Targets.Peers {
			if _, err := checks.ParsePeer(p); err != nil {
				t.Errorf("peer %q: %v", p, err)
			}
		}
		for _, s := range r.Targets.Services {
			if _, err := checks.ParseNamespacedName(s, "default"); err != nil {
				t.Errorf("service %q: %v", s, err)
			}
		}
	})
}
