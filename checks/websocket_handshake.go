package checks

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// websocket-handshake (FAILURE-MODES §5): exec, attach and port-forward need "101 Switching
// Protocols". Raw HTTP/1.1 handshakes go through the kubeconfig's own transport (proxy-url, CA,
// client certificate, exec plugin, and the read-only guard), so nothing hides what came back:
//
//   - a WebSocket watch of the workload's pods (read-only) must answer 101 echoing
//     base64.binary.k8s.io: the path to the API server carries upgrades; 200/400 there means an
//     intermediary dropped the upgrade or speaks HTTP/2 (upgrade-not-carried); an HTML page, a Via
//     header, a redirect means a proxy answered (intermediary-answered);
//   - a plain GET with the same headers answers 200: the seed's "Handshake status 200 OK",
//     reproduced — what a client gets when it sends the upgrade to a non-streaming path;
//   - RBAC for pods/exec as the workload's ServiceAccount (exec-forbidden);
//   - the workload's recent logs, for the client's own error (matched, never printed): a 200 while the
//     path carries upgrades is shared-client-stream;
//   - outside read-only mode only, the exec handshake itself (command "true", v5 then v4) on a running
//     pod of the workload: exec starts a process, so it is fix-class. A bare kube-apiserver has no
//     kubelet, so this one is exercised against the demo world's exec endpoint.

func init() {
	Register(CheckFunc{CheckID: "websocket-handshake", Fn: runWebSocketHandshake})
}

// Log phrases of the Python client (websocket-client) and what they mean.
var wsLogSignals = []struct{ Phrase, Meaning string }{
	{"Handshake status 200", "an upgrade answered 200: sent to a non-streaming endpoint"},
	{"Handshake status 400", "an upgrade answered 400: the upgrade headers were lost, or exec was called without stream()"},
	{"Upgrade request required", "exec reached the server without upgrade headers"},
	{"Handshake status 403", "the exec handshake was forbidden (RBAC)"},
	{"Handshake status 401", "the exec handshake was not authenticated (see sa-token-401)"},
}

// wsUnread is a fact the check could not read: with one, the check does not pass.
type wsUnread struct {
	what string // "list the pods of deploy/ns/name"
	err  error
}

type wsTarget struct {
	unread   []wsUnread
	ns       string
	w        *inventory.Workload
	pods     []corev1.Pod
	running  *corev1.Pod
	label    string
	saUser   string
	saGroups []string
}

func wsTargetOf(ctx context.Context, env *Env, rec *Recorder, w *inventory.Workload) *wsTarget {
	t := &wsTarget{w: w, ns: w.Ref.Namespace, label: w.Ref.String()}
	t.saUser, t.saGroups = saUserGroups(w.Ref.Namespace, w.ServiceAccountName())
	pods, err := env.Inv.WorkloadPods(ctx, w)
	if err != nil {
		rec.Step("pods of "+t.label, Skip, "could not list them: "+err.Error(), "")
		t.unread = append(t.unread, wsUnread{"list the pods of " + t.label, err})
	}
	t.pods = pods
	for i := range pods {
		if pods[i].Status.Phase == corev1.PodRunning && pods[i].DeletionTimestamp == nil {
			t.running = &pods[i]
			break
		}
	}
	return t
}

// wsResolveTargets resolves --workload, else the workloads whose ServiceAccount has a binding
// (capped); with none, the path is still probed in the context's namespace.
func wsResolveTargets(ctx context.Context, env *Env, rec *Recorder) ([]*wsTarget, *Result) {
	if env.Targets.Workload != "" {
		w, r := namedWorkload(ctx, env)
		if r != nil {
			return nil, r
		}
		return []*wsTarget{wsTargetOf(ctx, env, rec, w)}, nil
	}
	ws, capped, err := discoverBoundWorkloads(ctx, env)
	if err != nil {
		rec.Step("workloads examined", Skip, "could not find the workloads whose ServiceAccount has a binding: "+err.Error()+" (give --workload)", "")
		return nil, nil
	}
	if capped > 0 {
		rec.Step("workloads examined", Warn, fmt.Sprintf("%d workloads run as a ServiceAccount with a binding; the first %d are examined (give --workload to choose)", capped+len(ws), len(ws)), "")
	}
	var out []*wsTarget
	for _, w := range ws {
		out = append(out, wsTargetOf(ctx, env, rec, w))
	}
	return out, nil
}

func runWebSocketHandshake(ctx context.Context, env *Env, rec *Recorder) Result {
	cfg := env.KubeREST
	if cfg == nil {
		if _, err := env.Inv.Kube(); err != nil {
			return FromErr("reach the Kubernetes API server", err)
		}
		return SkipResult("not-configured", "no API server transport to send a WebSocket handshake through (the client has no REST configuration)")
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return SkipResult("not-configured", "cannot build the kubeconfig's transport: "+err.Error())
	}
	targets, res := wsResolveTargets(ctx, env, rec)
	if res != nil {
		return *res
	}
	t := &wsTarget{ns: env.Target.Namespace}
	if t.ns == "" {
		t.ns = "default"
	}
	if len(targets) > 0 {
		t = targets[0]
	}
	base := cfg.Host
	if cfg.APIPath != "" && cfg.APIPath != "/api" && cfg.APIPath != "/apis" {
		base = strings.TrimRight(base, "/") + cfg.APIPath
	}
	origin := base
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	podName := ""
	if t.running != nil {
		podName = t.running.Name
	} else if len(t.pods) > 0 {
		podName = t.pods[0].Name
	}
	server := strings.TrimRight(base, "/")

	// 1. The read-only WebSocket watch: does the path carry upgrades?
	sel := "metadata.name=" + podName
	if podName == "" {
		sel = "metadata.name=gkedoctor-websocket-probe"
	}
	watch := probe.WebSocketHandshake(ctx, rt, probe.HandshakeRequest{Base: base, Path: "/api/v1/namespaces/" + t.ns + "/pods",
		Query: url.Values{"watch": {"1"}, "fieldSelector": {sel}}, Protocols: []string{"base64.binary.k8s.io"}, Origin: origin})
	watchCmd := fmt.Sprintf("curl -sk --http1.1 -o /dev/null -w '%%{http_code}\\n' -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==' -H 'Sec-WebSocket-Protocol: base64.binary.k8s.io' -H 'Origin: %s' -H \"Authorization: Bearer $TOKEN\" '%s/api/v1/namespaces/%s/pods?watch=1&fieldSelector=%s'",
		origin, server, t.ns, url.QueryEscape(sel))
	if watch.Err != nil {
		rec.Step("WebSocket watch through the kubeconfig's path (read-only)", Skip, watch.Describe(), watchCmd)
		if apierr.KindOf(watch.Err) == apierr.ReadOnly {
			return SkipResult("read-only", "the read-only guard refused the WebSocket watch: "+watch.Err.Error())
		}
		return SkipResult("unreachable", "could not reach the API server to send a WebSocket handshake: "+watch.Err.Error())
	}
	var pathFail *Result
	switch {
	case watch.Upgraded():
		detail := watch.Describe() + ": the path to the API server (" + server + ") carries WebSocket upgrades"
		if watch.Subprotocol == "" {
			detail += " (no subprotocol echoed)"
		}
		rec.Step("WebSocket watch through the kubeconfig's path (read-only)", Pass, detail, watchCmd)
	case watch.Code == http.StatusUnauthorized:
		rec.Step("WebSocket watch through the kubeconfig's path (read-only)", Skip, watch.Describe(), watchCmd)
		return SkipResult("unauthenticated", "the API server rejected gkedoctor's own credentials (401) on the WebSocket watch; refresh them (gcloud container clusters get-credentials …)")
	case watch.Code == http.StatusForbidden && watch.BodyKind == "status" && strings.Contains(watch.Message, "cannot "):
		rec.Step("WebSocket watch through the kubeconfig's path (read-only)", Skip, watch.Describe(), watchCmd)
		return SkipResult("missing-permission", "could not send the WebSocket watch: missing RBAC watch pods in "+t.ns+" ("+watch.Message+")")
	default:
		if ok, why := watch.Intermediary(); ok {
			rec.Step("WebSocket watch through the kubeconfig's path (read-only)", Fail, watch.Describe(), watchCmd)
			r := FailResult("intermediary-answered", fmt.Sprintf("something between gkedoctor and the API server answered the WebSocket handshake itself (%s, %s): an auth proxy, IAP or a corporate proxy; exec and the Python client's stream() cannot work through it", watch.Status, why),
				fixes.NewWebSocketAdvice(fixes.WebSocketAdvice{Kind: "proxy", Server: server}))
			pathFail = &r
		} else {
			rec.Step("WebSocket watch through the kubeconfig's path (read-only)", Fail, watch.Describe()+": want 101 Switching Protocols", watchCmd)
			why := "an intermediary (proxy, load balancer) dropped the hop-by-hop Connection/Upgrade headers or speaks HTTP/2 to the API server, where an upgrade means nothing"
			if watch.Proto == "HTTP/2.0" {
				why = "the answer came over HTTP/2, where upgrade headers mean nothing: the handshake must be HTTP/1.1 end to end"
			}
			r := FailResult("upgrade-not-carried", fmt.Sprintf("a WebSocket watch through %s answered %s instead of 101: %s; exec then fails with 400 \"Upgrade request required\"", server, watch.Status, why),
				fixes.NewWebSocketAdvice(fixes.WebSocketAdvice{Kind: "proxy", Server: server}))
			pathFail = &r
		}
	}

	// 2. The seed's symptom, reproduced read-only: the same upgrade to a plain REST path.
	plainPath, plainQuery := "/api/v1/namespaces/"+t.ns+"/pods", url.Values{"limit": {"1"}}
	if podName != "" {
		plainPath, plainQuery = "/api/v1/namespaces/"+t.ns+"/pods/"+podName, nil
	}
	plain := probe.WebSocketHandshake(ctx, rt, probe.HandshakeRequest{Base: base, Path: plainPath, Query: plainQuery,
		Protocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}, Origin: origin})
	plainCmd := fmt.Sprintf("curl -sk --http1.1 -o /dev/null -w '%%{http_code}\\n' -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==' -H \"Authorization: Bearer $TOKEN\" '%s%s'", server, plainPath)
	reproduced := false
	var unread []wsUnread
	switch {
	case plain.Err != nil:
		rec.Step("upgrade sent to a plain REST path (the seed's symptom, read-only)", Skip, plain.Describe(), plainCmd)
		unread = append(unread, wsUnread{"send GET " + plainPath + " with upgrade headers", kube.Map(plain.Err, "get", plainPath)})
	case wsAPIError(plain) != nil:
		// The API server refused or failed the plain read it answered the watch for: not a pass.
		rec.Step("upgrade sent to a plain REST path (the seed's symptom, read-only)", Skip, plain.Describe(), plainCmd)
		unread = append(unread, wsUnread{"read " + plainPath + " (Kubernetes API)", wsAPIError(plain)})
	case plain.Code == http.StatusOK && !wsIsObject(plain, podName):
		// A 200 whose body is not the object asked for (cut off, not JSON, another kind): whatever
		// answered, it was not the API server's read of the workload's pod.
		rec.Step("upgrade sent to a plain REST path (the seed's symptom, read-only)", Skip, plain.Describe()+": the body is not the "+wsWantKind(podName)+" asked for", plainCmd)
		err := fmt.Errorf("GET %s answered %s with a body that is not a %s (kind %q, %s body)", plainPath, plain.Status, wsWantKind(podName), plain.ObjectKind, tokenOr(plain.BodyKind, "no"))
		if plain.BodyErr != nil {
			err = fmt.Errorf("GET %s answered %s, but the body was cut off: %v", plainPath, plain.Status, plain.BodyErr)
		}
		unread = append(unread, wsUnread{"read " + plainPath + " (Kubernetes API)", err})
	case plain.Code == http.StatusOK:
		reproduced = true
		rec.Step("upgrade sent to a plain REST path (the seed's symptom, read-only)", Pass, "GET "+plainPath+" with upgrade headers answers "+plain.Status+
			": exactly what websocket-client reports as \"Handshake status 200 OK\" — a client gets it only when it sends the upgrade to a non-streaming endpoint", plainCmd)
	default:
		rec.Step("upgrade sent to a plain REST path (the seed's symptom, read-only)", Pass, plain.Describe(), plainCmd)
	}
	if pathFail != nil {
		return *pathFail
	}

	for _, t := range targets {
		if r := wsWorkload(ctx, env, rec, rt, base, origin, server, t, reproduced); r != nil {
			return *r
		}
		unread = append(unread, t.unread...)
	}
	summary := "the path to the API server carries WebSocket upgrades (the watch answered 101)"
	if len(targets) > 0 {
		var labels []string
		for _, t := range targets {
			labels = append(labels, t.label)
		}
		summary += "; " + strings.Join(labels, ", ") + ": may exec, and no handshake errors in their recent logs"
	}
	if reproduced {
		summary += "; a client that reports \"Handshake status 200 OK\" sends its upgrade to a non-streaming endpoint (shared ApiClient with stream())"
	}
	if len(unread) > 0 {
		// What was confirmed stays in the summary; the verdict is the skip for what was not read.
		r := FromErr(unread[0].what, unread[0].err)
		r.Summary = "the path to the API server carries WebSocket upgrades (the watch answered 101); but " + r.Summary
		if len(unread) > 1 {
			r.Summary += fmt.Sprintf(" (and %d more; see the evidence)", len(unread)-1)
		}
		return r
	}
	return PassResult(summary)
}

// wsWantKind is the kind of object the plain GET asks for.
func wsWantKind(podName string) string {
	if podName != "" {
		return "Pod"
	}
	return "PodList"
}

// wsIsObject reports whether a 200 to the plain GET carries the object asked for, whole.
func wsIsObject(h probe.Handshake, podName string) bool {
	return h.BodyErr == nil && h.ObjectKind == wsWantKind(podName)
}

// wsAPIError is the Kubernetes API error a plain (non-upgraded) answer stands for: 401, 403, 404,
// 429 or a 5xx, classified as client-go would (a missing RBAC permission is named), else nil.
func wsAPIError(h probe.Handshake) error {
	if h.Code != http.StatusUnauthorized && h.Code != http.StatusForbidden && h.Code != http.StatusNotFound && h.Code != http.StatusTooManyRequests && h.Code < 500 {
		return nil
	}
	msg := tokenOr(h.Message, h.Status)
	se := apierrors.NewGenericServerResponse(h.Code, "get", schema.GroupResource{Resource: "pods"}, "", msg, 0, false)
	if h.Code == http.StatusForbidden {
		// The server's own message names the verb and resource ("cannot get resource \"pods\""):
		// keep it as it is, so the RBAC permission is named.
		se = apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", fmt.Errorf("%s", msg))
	}
	return kube.Map(se, "get", "pods")
}

func execRules(verbs []string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: verbs}}
}

// wsLogSymptoms counts the client's handshake errors in the last lines of the workload's running pods'
// logs (at most 3 pods, 3 containers each). Lines are matched, never printed: logs can hold anything.
func wsLogSymptoms(ctx context.Context, env *Env, rec *Recorder, t *wsTarget) (map[string]int, bool) {
	counts := map[string]int{}
	looked := false
	n := 0
	for _, p := range t.pods {
		if p.Status.Phase != corev1.PodRunning || n >= 3 {
			continue
		}
		n++
		for ci, c := range p.Spec.Containers {
			if ci >= 3 {
				break
			}
			cmd := fmt.Sprintf("kubectl logs -n %s %s -c %s --tail 2000 | grep -c 'Handshake status'", t.ns, p.Name, c.Name)
			logs, err := env.Inv.PodLogTail(ctx, t.ns, p.Name, c.Name, 2000, 512<<10)
			if err != nil {
				rec.Step("recent logs of "+p.Name+"/"+c.Name, Skip, "could not read them: "+err.Error(), cmd)
				t.unread = append(t.unread, wsUnread{"read the recent logs of " + p.Name + "/" + c.Name, err})
				continue
			}
			looked = true
			var found []string
			for _, s := range wsLogSignals {
				if k := strings.Count(logs, s.Phrase); k > 0 {
					counts[s.Phrase] += k
					found = append(found, fmt.Sprintf("%d× %q (%s)", k, s.Phrase, s.Meaning))
				}
			}
			if len(found) == 0 {
				rec.Step("recent logs of "+p.Name+"/"+c.Name, Pass, "no WebSocket handshake errors in the last 2000 lines", cmd)
			} else {
				rec.Step("recent logs of "+p.Name+"/"+c.Name, Fail, strings.Join(found, "; ")+" (lines not shown: logs can hold secrets)", cmd)
			}
		}
	}
	return counts, looked
}

// wsWorkload runs the per-workload steps: RBAC for exec, the exec handshake (not read-only), the
// client's errors in its logs. It returns the first finding, or nil.
func wsWorkload(ctx context.Context, env *Env, rec *Recorder, rt http.RoundTripper, base, origin, server string, t *wsTarget, reproduced bool) *Result {
	// 3. RBAC for exec, as the workload's ServiceAccount.
	var execDenied []string
	if t.w != nil {
		for _, verb := range []string{"get", "create"} {
			st, err := env.Inv.Access(ctx, t.saUser, t.saGroups, t.ns, verb, "", "pods", "exec")
			cmd := authCanICommand(verb, "pods", "exec", t.ns, t.saUser)
			switch {
			case err != nil:
				rec.Step("RBAC: may "+t.saUser+" "+verb+" pods/exec in "+t.ns+"?", Skip, "could not ask (SubjectAccessReview): "+err.Error(), cmd)
				t.unread = append(t.unread, wsUnread{"ask whether " + t.saUser + " may " + verb + " pods/exec (SubjectAccessReview)", err})
			case !st.Allowed:
				execDenied = append(execDenied, verb)
				rec.Step("RBAC: may "+t.saUser+" "+verb+" pods/exec in "+t.ns+"?", Fail, "no: the exec handshake gets 403", cmd)
			default:
				rec.Step("RBAC: may "+t.saUser+" "+verb+" pods/exec in "+t.ns+"?", Pass, tokenOr(st.Reason, "allowed"), cmd)
			}
		}
	}

	// 4. The exec handshake itself: fix-class (exec starts a process).
	var execFail *Result
	if t.running != nil {
		c := t.running.Spec.Containers[0].Name
		execPath := "/api/v1/namespaces/" + t.ns + "/pods/" + t.running.Name + "/exec"
		execCmd := fmt.Sprintf("kubectl exec -n %s %s -c %s -- true", t.ns, t.running.Name, c)
		if env.ReadOnly {
			rec.Step("exec handshake on "+t.running.Name, Skip, "not sent: exec starts a process (command \"true\"), and this run is read-only", execCmd)
		} else {
			ex := probe.WebSocketHandshake(ctx, rt, probe.HandshakeRequest{Base: base, Path: execPath,
				Query:     url.Values{"command": {"true"}, "container": {c}, "stdout": {"true"}, "stderr": {"true"}},
				Protocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}, Origin: origin})
			switch {
			case ex.Err != nil:
				rec.Step("exec handshake on "+t.running.Name+" (command \"true\")", Skip, ex.Describe(), execCmd)
			case ex.Upgraded():
				st := Pass
				d := ex.Describe()
				if ex.Subprotocol != "v5.channel.k8s.io" {
					d += ": the server does not offer v5.channel.k8s.io (Kubernetes < 1.30); a client that offers only v5 gets 400"
				}
				rec.Step("exec handshake on "+t.running.Name+" (command \"true\")", st, d, execCmd)
			case ex.Code == http.StatusForbidden:
				rec.Step("exec handshake on "+t.running.Name+" (command \"true\")", Fail, ex.Describe(), execCmd)
				r := FailResult("exec-forbidden", fmt.Sprintf("the exec handshake on %s answered 403 (%s)", t.running.Name, tokenOr(ex.Message, "Forbidden")))
				execFail = &r
			case ex.Code == http.StatusBadRequest && strings.Contains(ex.Message, "protocol"):
				rec.Step("exec handshake on "+t.running.Name+" (command \"true\")", Fail, ex.Describe(), execCmd)
				r := FailResult("old-server-protocol", fmt.Sprintf("the server does not offer the stream subprotocols the client insists on (%s)", ex.Message),
					fixes.NewWebSocketAdvice(fixes.WebSocketAdvice{Kind: "protocol", Workload: t.label}))
				execFail = &r
			default:
				rec.Step("exec handshake on "+t.running.Name+" (command \"true\")", Fail, ex.Describe()+": want 101", execCmd)
				r := FailResult("upgrade-not-carried", fmt.Sprintf("the exec handshake on %s answered %s instead of 101 while the WebSocket watch passed", t.running.Name, ex.Status),
					fixes.NewWebSocketAdvice(fixes.WebSocketAdvice{Kind: "proxy", Server: server}))
				execFail = &r
			}
		}
	} else if t.w != nil {
		rec.Step("exec handshake", Skip, "no running pod of "+t.label+" to exec into", "")
	}
	if execFail != nil {
		return execFail
	}
	if len(execDenied) > 0 {
		r := FailResult("exec-forbidden", fmt.Sprintf("ServiceAccount %s may not %s pods/exec in %s: the exec handshake gets 403 (\"cannot %s resource \\\"pods/exec\\\"\")", t.saUser, strings.Join(execDenied, "/"), t.ns, execDenied[0]),
			fixes.NewRoleBindingPlan(env.FixDeps, fixes.RoleBindingSpec{Namespace: t.ns, ServiceAccount: t.w.ServiceAccountName(), Rules: execRules(execDenied)}))
		return &r
	}

	// 5. The client's own errors, in the workload's recent logs.
	if t.w != nil {
		counts, looked := wsLogSymptoms(ctx, env, rec, t)
		if looked && counts["Handshake status 200"] > 0 {
			summary := fmt.Sprintf("%s's client reported \"Handshake status 200 OK\" in %d matching log line(s) while the path to the API server carries upgrades (101): it sends WebSocket upgrades to non-streaming endpoints — a shared ApiClient used by other threads while stream() runs, or stream() around a non-connect_* method", t.label, counts["Handshake status 200"])
			if reproduced {
				summary += " (reproduced: a plain GET with upgrade headers answers 200)"
			}
			r := FailResult("shared-client-stream", summary, fixes.NewWebSocketAdvice(fixes.WebSocketAdvice{Kind: "shared-client", Workload: t.label}))
			return &r
		}
		if looked && (counts["Handshake status 400"] > 0 || counts["Upgrade request required"] > 0) {
			r := WarnResult("upgrade-not-carried", fmt.Sprintf("%s's client reported 400 \"Upgrade request required\" in its recent logs, though the path from here carries upgrades: its own path (a proxy configured in the pod) drops them, or it calls exec without stream()", t.label),
				fixes.NewWebSocketAdvice(fixes.WebSocketAdvice{Kind: "shared-client", Workload: t.label}))
			return &r
		}
	}
	return nil
}
