package fixes

import (
	"fmt"
	"strings"
)

// TokenAdvice is advice for a client-side (or not-repairable) cause of a 401: the exact change, never
// applied by the tool (DESIGN §7: no edits to application images or code).
type TokenAdvice struct {
	// Kind: create-sa, bound-token, reload, audience, python-36, automount, recreate-pod.
	Kind                      string
	Namespace, ServiceAccount string
	Workload                  string // the workload's label (kind/ns/name)
	Audience                  string
}

// NewTokenAdvice builds the advice plan for one kind.
func NewTokenAdvice(a TokenAdvice) *Plan {
	p := &Plan{Advice: true, Reversible: true}
	sa := a.Namespace + "/" + a.ServiceAccount
	switch a.Kind {
	case "create-sa":
		p.ID = "advice/create-serviceaccount/" + sa
		p.Title = "Re-create ServiceAccount " + sa + " and restart what uses it"
		p.Description = "Tokens are bound to the ServiceAccount's UID: after creating it, restart the workloads (or issue new token Secrets) so they get tokens for the new UID. RBAC bindings name the ServiceAccount by name and keep working."
		p.Commands = []string{fmt.Sprintf("kubectl create serviceaccount %s -n %s", a.ServiceAccount, a.Namespace), "kubectl rollout restart KIND/NAME -n " + a.Namespace}
	case "bound-token":
		p.ID = "advice/bound-token/" + sa
		p.Title = "Move " + orWorkload(a.Workload) + " from a legacy token Secret to a projected (bound) token"
		p.Description = "Legacy Secret tokens never expire and break when the ServiceAccount is re-created, the Secret is deleted or the cleaner invalidates it. " +
			"Remove the Secret volume mounted at /var/run/secrets/kubernetes.io/serviceaccount and let the kubelet project a bound token (automountServiceAccountToken: true, the default), " +
			"or mint one on demand with TokenRequest. The client must re-read the token file (Python client >= 12.0.0 does)."
		p.Commands = []string{
			"# in the pod template: drop the Secret volume and its volumeMount at /var/run/secrets/kubernetes.io/serviceaccount, and set\n#   automountServiceAccountToken: true",
			fmt.Sprintf("kubectl create token %s -n %s --duration 1h   # a bound token on demand (for clients outside the cluster)", a.ServiceAccount, a.Namespace),
		}
	case "reload":
		p.ID = "advice/reload-token/" + sa
		p.Title = "Make the client reload the rotated token (Python kubernetes >= 12.0.0; no copied Configuration)"
		p.Description = "The kubelet rotates the projected token at 80% of its lifetime (about 48 minutes) and the application must re-read the file. " +
			"Python kubernetes < 12.0.0 reads it once; a Configuration copied after load_incluster_config() keeps the old token. A token copied out of a pod dies with the pod."
		p.Commands = []string{
			"pip install 'kubernetes>=12.0.0,!=36.0.0,!=36.0.1'",
			"# Python: call config.load_incluster_config() and use the default Configuration (do not copy it);\n#   for long-lived processes create the ApiClient after loading, and never cache the token string yourself",
			fmt.Sprintf("kubectl create token %s -n %s --duration 1h   # instead of copying a pod's token out", a.ServiceAccount, a.Namespace),
		}
	case "audience":
		p.ID = "advice/token-audience/" + sa
		p.Title = "Use a token minted for the API server's audience"
		p.Description = "The token was minted for audience " + a.Audience + " (a projected token for another consumer such as Vault). Send the default ServiceAccount token (/var/run/secrets/kubernetes.io/serviceaccount/token) to the Kubernetes API, or mint one without --audience."
		p.Commands = []string{fmt.Sprintf("kubectl create token %s -n %s   # default audience: the API server's", a.ServiceAccount, a.Namespace)}
	case "python-36":
		p.ID = "advice/python-client-36/" + sa
		p.Title = "Pin the Python kubernetes client to >= 36.0.2 or 35.x (36.0.0/36.0.1 send no Authorization header)"
		p.Description = "kubernetes 36.0.0 and 36.0.1 store the in-cluster token under api_key['authorization'] but look it up under 'BearerToken', so no Authorization header is sent and every call is anonymous (kubernetes-client/python#2582)."
		p.Commands = []string{"pip install 'kubernetes>=36.0.2'   # or 'kubernetes<36'", "python -c 'import kubernetes; print(kubernetes.__version__)'   # in the pod"}
	case "automount":
		p.ID = "advice/automount/" + sa
		p.Title = "Mount a token: automountServiceAccountToken is false for " + orWorkload(a.Workload)
		p.Description = "With automount off and no projected token volume the in-cluster client has no token to send; a baked-in or copied token gets 401 once stale. Turn automount on for the pod (or add a serviceAccountToken projection)."
		p.Commands = []string{"# pod template: automountServiceAccountToken: true   (or a projected volume with serviceAccountToken at /var/run/secrets/kubernetes.io/serviceaccount)"}
	case "recreate-pod":
		p.ID = "advice/recreate-pod/" + strings.ReplaceAll(a.Workload, " ", "")
		p.Title = "Re-create " + orWorkload(a.Workload) + " so it gets a fresh bound token"
		p.Description = "A bare pod (or a Job's pod) is not replaced by a controller: delete and re-create it from its manifest."
		p.Commands = []string{"kubectl get pod NAME -n NS -o yaml > pod.yaml && kubectl replace --force -f pod.yaml"}
	default:
		p.ID = "advice/token/" + sa
		p.Title = "Send a token the API server accepts"
		p.Commands = []string{fmt.Sprintf("kubectl create token %s -n %s", a.ServiceAccount, a.Namespace)}
	}
	if len(p.JudgedAgainst) == 0 {
		switch {
		case a.Kind == "create-sa":
			p.JudgedAgainst = []string{"every workload in namespace " + a.Namespace + " that runs as ServiceAccount " + a.ServiceAccount + " (restarted to get tokens for the new UID)"}
		case a.Workload != "":
			p.JudgedAgainst = []string{"the pods and code of " + a.Workload + " only"}
		default:
			p.JudgedAgainst = []string{"the pods that use ServiceAccount " + sa + " only"}
		}
	}
	return p
}

func orWorkload(w string) string {
	if w == "" {
		return "the workload"
	}
	return w
}
