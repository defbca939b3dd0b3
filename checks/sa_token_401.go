package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// sa-token-401 (FAILURE-MODES §4): why a workload's ServiceAccount token gets 401 Unauthorized. The
// decision list, in the order the causes are tested:
//
//  1. is-403-not-401: the token authenticates and RBAC denies a verb — that is a 403, and a 401 never
//     comes from RBAC (the seed's author looked at the cluster-admin binding for a 401);
//  2. sa-recreated: the ServiceAccount's UID differs from the token's claim, from a token Secret's
//     kubernetes.io/service-account.uid annotation, or the pods predate the ServiceAccount;
//  3. legacy-token-invalidated: the cleaner's kubernetes.io/legacy-token-invalid-since label;
//  4. legacy-secret-missing: the Secret a legacy token names, or a pod mounts, is gone;
//  5. pod-recreated: a bound token's pod UID claim is not the live pod's;
//  6. wrong-audience; 7. token-expired-not-reloaded; 8. no-authorization-header;
//  9. automount-disabled.
//
// The token a failing client sends can be given with --token-file (inside a pod: the pod's own token
// by default). Its claims are decoded locally and it is sent to TokenReview, so the verdict quotes the
// API server's own reason; the token itself is never printed, logged or journaled. Secrets are read as
// metadata only. Outside read-only mode the check also mints a short-lived token for the
// ServiceAccount (TokenRequest) and reviews it: "the ServiceAccount can authenticate now".

func init() {
	Register(CheckFunc{CheckID: "sa-token-401", Fn: runSAToken401})
}

// MaxDiscoveredWorkloads caps how many workloads the check examines when none is given.
var MaxDiscoveredWorkloads = 10

// InClusterTokenPath is where a pod's own token is mounted.
const InClusterTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

const (
	legacyInvalidSinceLabel = "kubernetes.io/legacy-token-invalid-since"
	saTokenMountPath        = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// tokenInput is the token a failing client sends, as far as the check may know it: the decoded
// claims and the TokenReview verdict. The token text itself does not leave readTokenInput.
type tokenInput struct {
	Source  string // "--token-file PATH" or "the pod's own token"
	Claims  *probe.TokenClaims
	Review  *authnv1.TokenReviewStatus
	Err     error // reading or decoding failed
	RevErr  error // TokenReview could not be asked
	Checked bool
}

func readTokenInput(ctx context.Context, env *Env, rec *Recorder) *tokenInput {
	path, source := env.Targets.TokenFile, ""
	if path != "" {
		source = "--token-file " + path
	} else if env.Where == InCluster {
		if _, err := os.Stat(InClusterTokenPath); err == nil {
			path, source = InClusterTokenPath, "the pod's own token ("+InClusterTokenPath+")"
		}
	}
	if path == "" {
		return nil
	}
	in := &tokenInput{Source: source}
	b, err := os.ReadFile(path)
	if err != nil {
		in.Err = fmt.Errorf("read %s: %w", path, errors.Unwrap(err))
		if errors.Unwrap(err) == nil {
			in.Err = fmt.Errorf("read %s: %v", path, err)
		}
		rec.Step("token from "+source, Skip, in.Err.Error(), "")
		return in
	}
	tok := strings.TrimSpace(string(b))
	claims, err := probe.DecodeToken(tok)
	if err != nil {
		in.Err = fmt.Errorf("the token in %s: %w", path, err)
		rec.Step("token from "+source, Fail, in.Err.Error(), "")
	} else {
		in.Claims = claims
		rec.Step("claims of the token from "+source+" (decoded locally, not verified)", Pass, claims.Describe(),
			"cut -d. -f2 "+path+" | base64 -d 2>/dev/null   # the claims; never paste the whole token")
	}
	st, err := env.Inv.TokenReview(ctx, tok, nil)
	tok = ""
	in.Checked = true
	if err != nil {
		in.RevErr = err
		rec.Step("TokenReview of the token", Skip, "could not ask the API server: "+err.Error(), tokenReviewCommand(path))
		return in
	}
	in.Review = st
	if st.Authenticated {
		rec.Step("TokenReview of the token", Pass, fmt.Sprintf("authenticated as %s (audiences %s): this token does not get 401",
			st.User.Username, strings.Join(st.Audiences, ",")), tokenReviewCommand(path))
	} else {
		reason := st.Error
		if reason == "" {
			reason = "no reason given"
		}
		rec.Step("TokenReview of the token", Fail, "not authenticated — the API server says: "+reason, tokenReviewCommand(path))
	}
	return in
}

func tokenReviewCommand(path string) string {
	return `kubectl create -o jsonpath='{.status}' -f - <<EOF
{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"$(cat ` + path + `)"}}
EOF`
}

// namedWorkload reads the workload --workload names, or says why it cannot (a skip naming the
// problem). Both workload-API checks use it.
func namedWorkload(ctx context.Context, env *Env) (*inventory.Workload, *Result) {
	ref, err := inventory.ParseWorkloadRef(env.Targets.Workload)
	if err != nil {
		r := SkipResult("bad-target", "--workload "+err.Error())
		return nil, &r
	}
	w, err := env.Inv.Workload(ctx, ref)
	if err != nil {
		r := FromErr("read "+ref.String(), err)
		return nil, &r
	}
	return w, nil
}

// workloadTargets resolves --workload, else the token's pod, else the workloads whose ServiceAccount
// has a binding (capped).
func workloadTargets(ctx context.Context, env *Env, in *tokenInput, rec *Recorder) ([]*inventory.Workload, *Result) {
	if env.Targets.Workload != "" {
		w, r := namedWorkload(ctx, env)
		if r != nil {
			return nil, r
		}
		return []*inventory.Workload{w}, nil
	}
	if in != nil && in.Claims != nil && in.Claims.PodName != "" && in.Claims.Namespace != "" {
		ref := inventory.WorkloadRef{Kind: "Pod", Namespace: in.Claims.Namespace, Name: in.Claims.PodName}
		if w, err := env.Inv.Workload(ctx, ref); err == nil {
			return []*inventory.Workload{w}, nil
		}
	}
	found, capped, err := discoverBoundWorkloads(ctx, env)
	if err != nil {
		if in != nil && in.Claims != nil {
			return nil, nil // the token alone can still be judged
		}
		r := FromErr("find the workloads whose ServiceAccount has a binding", err)
		return nil, &r
	}
	if capped > 0 {
		rec.Step("workloads examined", Warn, fmt.Sprintf("%d workloads run as a ServiceAccount with a binding; the first %d are examined (give --workload to choose)", capped+len(found), len(found)), "")
	}
	return found, nil
}

// discoverBoundWorkloads lists the Deployments, StatefulSets and DaemonSets whose ServiceAccount is a
// subject of a ClusterRoleBinding or RoleBinding, namespace by namespace in name order.
func discoverBoundWorkloads(ctx context.Context, env *Env) ([]*inventory.Workload, int, error) {
	crbs, err := env.Inv.ClusterRoleBindings(ctx)
	if err != nil {
		return nil, 0, err
	}
	rbs, err := env.Inv.RoleBindings(ctx)
	if err != nil {
		return nil, 0, err
	}
	bound := map[string]bool{}
	nss := map[string]bool{}
	addSubj := func(s rbacv1.Subject, bindingNS string) {
		if s.Kind != rbacv1.ServiceAccountKind {
			return
		}
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		if ns == "kube-system" || ns == "" {
			return // the cluster's own components
		}
		bound[ns+"/"+s.Name] = true
		nss[ns] = true
	}
	for _, b := range crbs {
		for _, s := range b.Subjects {
			addSubj(s, "")
		}
	}
	for _, b := range rbs {
		for _, s := range b.Subjects {
			addSubj(s, b.Namespace)
		}
	}
	var names []string
	for ns := range nss {
		names = append(names, ns)
	}
	sort.Strings(names)
	var out []*inventory.Workload
	extra := 0
	for _, ns := range names {
		ws, err := env.Inv.Controllers(ctx, ns)
		if err != nil {
			return nil, 0, err
		}
		for _, w := range ws {
			if !bound[ns+"/"+w.ServiceAccountName()] {
				continue
			}
			if len(out) >= MaxDiscoveredWorkloads {
				extra++
				continue
			}
			out = append(out, w)
		}
	}
	return out, extra, nil
}

// tokenFinding is the verdict for one workload (or for the token alone).
type tokenFinding struct {
	Label   string
	Status  Status
	Cause   string
	Summary string
	Plans   []*fixes.Plan
}

func runSAToken401(ctx context.Context, env *Env, rec *Recorder) Result {
	if _, err := env.Inv.Kube(); err != nil {
		return FromErr("read ServiceAccounts and tokens", err)
	}
	in := readTokenInput(ctx, env, rec)
	if in != nil && in.Err != nil && in.Claims == nil && !in.Checked {
		return SkipResult("bad-target", "could not use the token: "+in.Err.Error())
	}
	ws, res := workloadTargets(ctx, env, in, rec)
	if res != nil {
		return *res
	}
	if len(ws) == 0 && (in == nil || in.Claims == nil) {
		return SkipResult("not-applicable", "no workload to examine: none given with --workload, and no Deployment, StatefulSet or DaemonSet runs as a ServiceAccount with a RoleBinding or ClusterRoleBinding (give --workload KIND/NS/NAME, or --token-file with the token the client sends)")
	}
	var findings []*tokenFinding
	for _, w := range ws {
		findings = append(findings, analyseWorkloadToken(ctx, env, rec, w, in))
	}
	if len(ws) == 0 {
		findings = append(findings, analyseWorkloadToken(ctx, env, rec, nil, in))
	}
	return combineTokenFindings(findings)
}

func combineTokenFindings(fs []*tokenFinding) Result {
	rank := map[Status]int{Fail: 0, Error: 1, Warn: 2, Skip: 3, Pass: 4}
	best := fs[0]
	for _, f := range fs[1:] {
		if rank[f.Status] < rank[best.Status] {
			best = f
		}
	}
	r := Result{Status: best.Status, Cause: best.Cause, Summary: best.Summary}
	if best.Status == Pass {
		if len(fs) > 1 {
			var labels []string
			for _, f := range fs {
				labels = append(labels, f.Label)
			}
			r.Summary = fmt.Sprintf("the tokens of %d workloads authenticate (%s); nothing here gives 401", len(fs), strings.Join(labels, ", "))
		}
		return r
	}
	for _, f := range fs {
		if f.Status == Fail || f.Status == Warn {
			r.Fixes = append(r.Fixes, f.Plans...)
		}
	}
	if n := countStatus(fs, Fail) + countStatus(fs, Warn); n > 1 {
		r.Summary += fmt.Sprintf(" (%d workloads have a finding; see the evidence)", n)
	}
	return r
}

func countStatus(fs []*tokenFinding, st Status) int {
	n := 0
	for _, f := range fs {
		if f.Status == st {
			n++
		}
	}
	return n
}

// saUserGroups are the user and groups a ServiceAccount authenticates as.
func saUserGroups(ns, name string) (string, []string) {
	return "system:serviceaccount:" + ns + ":" + name, []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// neededAccess are the requests the seed's workload makes (read_namespaced_pod, list, exec): what an
// RBAC denial would answer with 403.
var neededAccess = []struct{ Verb, Resource, Sub string }{
	{"get", "pods", ""}, {"list", "pods", ""}, {"create", "pods", "exec"},
}

// tokenVolume reports how a pod spec gets its API token: "projected" (automount or an explicit
// serviceAccountToken projection), "secret NAME" (a Secret mounted at the token path), or "".
type tokenMount struct {
	Projected bool
	Secrets   []string // Secret volumes mounted at the ServiceAccount token path, or token Secrets mounted anywhere
	Audience  string   // a projected token's explicit audience
}

func tokenMountOf(spec *corev1.PodSpec, sa *corev1.ServiceAccount) tokenMount {
	var m tokenMount
	automount := true
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		automount = *sa.AutomountServiceAccountToken
	}
	if spec.AutomountServiceAccountToken != nil {
		automount = *spec.AutomountServiceAccountToken
	}
	mountedAtTokenPath := map[string]bool{}
	for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
		for _, vm := range c.VolumeMounts {
			if strings.TrimRight(vm.MountPath, "/") == saTokenMountPath {
				mountedAtTokenPath[vm.Name] = true
			}
		}
	}
	if automount && len(mountedAtTokenPath) == 0 {
		m.Projected = true
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil && mountedAtTokenPath[v.Name]:
			m.Secrets = append(m.Secrets, v.Secret.SecretName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					m.Projected = true
					if s.ServiceAccountToken.Audience != "" {
						m.Audience = s.ServiceAccountToken.Audience
					}
				}
			}
		}
	}
	return m
}

// pythonClientRE finds a pinned Python kubernetes client version in env values, args or image tags.
var pythonClientRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\bkubernetes\s*(?:==|===|@)\s*v?(\d+)\.(\d+)\.(\d+)`)
})

// pythonClientVersion returns the kubernetes Python client version a pod spec declares, if any.
func pythonClientVersion(spec *corev1.PodSpec) (major, minor, patch int, where string, ok bool) {
	for _, c := range spec.Containers {
		var texts []string
		for _, e := range c.Env {
			texts = append(texts, e.Value)
		}
		texts = append(texts, c.Args...)
		texts = append(texts, c.Command...)
		for _, t := range texts {
			if m := pythonClientRE().FindStringSubmatch(t); m != nil {
				a, _ := strconv.Atoi(m[1])
				b, _ := strconv.Atoi(m[2])
				p, _ := strconv.Atoi(m[3])
				return a, b, p, "container " + c.Name, true
			}
		}
	}
	return 0, 0, 0, "", false
}

func analyseWorkloadToken(ctx context.Context, env *Env, rec *Recorder, w *inventory.Workload, in *tokenInput) *tokenFinding {
	now := time.Now()
	if env.Now != nil {
		now = env.Now()
	}
	f := &tokenFinding{Status: Pass}
	var ns, saName, label string
	if w != nil {
		ns, saName, label = w.Ref.Namespace, w.ServiceAccountName(), w.Ref.String()
	} else {
		ns, saName = in.Claims.Namespace, in.Claims.SAName
		label = "the token's ServiceAccount " + ns + "/" + saName
	}
	f.Label = label
	fail := func(cause, summary string, plans ...*fixes.Plan) *tokenFinding {
		f.Status, f.Cause, f.Summary, f.Plans = Fail, cause, summary, plans
		return f
	}
	tokenGiven := in != nil && in.Claims != nil
	claimsMatch := tokenGiven && (w == nil || (in.Claims.Namespace == ns && in.Claims.SAName == saName))

	// The ServiceAccount.
	if saName == "" {
		return fail("not-a-serviceaccount-token", "the token is not a ServiceAccount token (no system:serviceaccount subject): a 401 with it is the issuer's business, not the cluster's ServiceAccounts")
	}
	saCmd := fmt.Sprintf("kubectl get serviceaccount %s -n %s -o jsonpath='{.metadata.uid} {.metadata.creationTimestamp}'", saName, ns)
	sa, err := env.Inv.ServiceAccount(ctx, ns, saName)
	if err != nil {
		if apierr.KindOf(err) == apierr.NotFound {
			rec.Step("ServiceAccount "+ns+"/"+saName, Fail, "does not exist: every token issued for it is rejected (\"ServiceAccount has been deleted\")", saCmd)
			plans := []*fixes.Plan{fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "create-sa", Namespace: ns, ServiceAccount: saName, Workload: label})}
			return fail("sa-recreated", fmt.Sprintf("%s runs as ServiceAccount %s/%s, which does not exist (deleted): its tokens get 401; create it (and roll the workload so it gets tokens for the new UID)", label, ns, saName), plans...)
		}
		r := FromErr("read ServiceAccount "+ns+"/"+saName, err)
		rec.Step("ServiceAccount "+ns+"/"+saName, Skip, r.Summary, saCmd)
		f.Status, f.Cause, f.Summary = Skip, r.Cause, r.Summary
		return f
	}
	rec.Step("ServiceAccount "+ns+"/"+saName, Pass, fmt.Sprintf("uid %s, created %s", sa.UID, sa.CreationTimestamp.UTC().Format(time.RFC3339)), saCmd)

	// 1. 401 or 403: with a token that authenticates, RBAC is the only thing left that can refuse.
	user, groups := saUserGroups(ns, saName)
	if tokenGiven && in.Review != nil && in.Review.Authenticated {
		user, groups = in.Review.User.Username, in.Review.User.Groups
	}
	var denied []string
	rbacLooked := false
	for _, a := range neededAccess {
		st, err := env.Inv.Access(ctx, user, groups, ns, a.Verb, "", a.Resource, a.Sub)
		what := a.Verb + " " + a.Resource
		if a.Sub != "" {
			what += "/" + a.Sub
		}
		if err != nil {
			rec.Step("RBAC: may "+user+" "+what+" in "+ns+"?", Skip, "could not ask (SubjectAccessReview): "+err.Error(), authCanICommand(a.Verb, a.Resource, a.Sub, ns, user))
			continue
		}
		rbacLooked = true
		if !st.Allowed {
			denied = append(denied, what)
			rec.Step("RBAC: may "+user+" "+what+" in "+ns+"?", Warn, "no — a request for it gets 403 Forbidden (never 401)", authCanICommand(a.Verb, a.Resource, a.Sub, ns, user))
		} else {
			reason := st.Reason
			if reason == "" {
				reason = "allowed"
			}
			rec.Step("RBAC: may "+user+" "+what+" in "+ns+"?", Pass, reason+" — RBAC is not what answers 401", authCanICommand(a.Verb, a.Resource, a.Sub, ns, user))
		}
	}
	if tokenGiven && in.Review != nil && in.Review.Authenticated && len(denied) > 0 {
		return fail("is-403-not-401", fmt.Sprintf("the token authenticates as %s; what fails is authorization: %s is denied, which the API server answers with 403 Forbidden — a 401 never comes from RBAC", user, strings.Join(denied, ", ")),
			fixes.NewRoleBindingPlan(env.FixDeps, fixes.RoleBindingSpec{Namespace: ns, ServiceAccount: saName, Rules: rulesFor(denied)}))
	}

	// What the pods mount, and the token Secrets of the ServiceAccount (metadata only). What could
	// not be read is kept: a cause it would have shown is not ruled out, so the end is not a pass.
	var unread couldNotLook
	var unreadWhat []string
	notRead := func(what string, err error) {
		unread.add(err)
		unreadWhat = append(unreadWhat, what)
	}
	var pods []corev1.Pod
	var tm tokenMount
	if w != nil {
		tm = tokenMountOf(&w.Template.Spec, sa)
		ps, err := env.Inv.WorkloadPods(ctx, w)
		if err != nil {
			rec.Step("pods of "+label, Skip, "could not list them: "+err.Error(), "")
			notRead("list the pods of "+label, err)
		} else {
			pods = ps
		}
		desc := "a bound token projected by the kubelet (kube-api-access-…)"
		if !tm.Projected && len(tm.Secrets) == 0 {
			desc = "no API token (automountServiceAccountToken false and no token volume)"
		} else if len(tm.Secrets) > 0 {
			desc = "the legacy token Secret " + strings.Join(tm.Secrets, ", ") + " mounted at " + saTokenMountPath
		}
		rec.Step("API token of "+label, Pass, fmt.Sprintf("%s; %d pod(s)", desc, len(pods)),
			fmt.Sprintf("kubectl get %s %s -n %s -o jsonpath='{.spec.template.spec.volumes}'", strings.ToLower(w.Ref.Kind), w.Ref.Name, ns))
	}
	type secretFact struct {
		Name    string
		Meta    *inventory.SecretMeta
		Missing bool
		Mounted bool
		Named   bool // named by the token's claims
	}
	var secrets []*secretFact
	seen := map[string]*secretFact{}
	addSecret := func(name string, mounted, named bool) {
		if name == "" {
			return
		}
		if s := seen[name]; s != nil {
			s.Mounted, s.Named = s.Mounted || mounted, s.Named || named
			return
		}
		s := &secretFact{Name: name, Mounted: mounted, Named: named}
		seen[name] = s
		secrets = append(secrets, s)
		m, err := env.Inv.Secret(ctx, ns, name)
		switch {
		case err == nil:
			s.Meta = m
		case apierr.KindOf(err) == apierr.NotFound:
			s.Missing = true
		default:
			rec.Step("Secret "+ns+"/"+name+" (metadata)", Skip, "could not read it: "+err.Error(), fmt.Sprintf("kubectl get secret %s -n %s -o jsonpath='{.metadata.annotations}'", name, ns))
			notRead("read the token Secret "+ns+"/"+name, err)
			delete(seen, name)
			secrets = secrets[:len(secrets)-1]
		}
	}
	for _, n := range tm.Secrets {
		addSecret(n, true, false)
	}
	for _, p := range pods {
		for _, n := range tokenMountOf(&p.Spec, sa).Secrets {
			addSecret(n, true, false)
		}
	}
	if claimsMatch && in.Claims.Legacy {
		addSecret(in.Claims.SecretName, false, true)
	}
	if tss, err := env.Inv.TokenSecrets(ctx, ns); err == nil {
		for _, s := range tss {
			if s.Annotations[corev1.ServiceAccountNameKey] == saName {
				addSecret(s.Name, false, false)
			}
		}
	} else {
		rec.Step("token Secrets of "+ns+"/"+saName, Skip, "could not list them (metadata): "+err.Error(), "")
		notRead("list the token Secrets of "+ns+"/"+saName, err)
	}
	for _, s := range secrets {
		cmd := fmt.Sprintf("kubectl get secret %s -n %s -o jsonpath='{.metadata.annotations}{\"\\n\"}{.metadata.labels}'", s.Name, ns)
		switch {
		case s.Missing:
			rec.Step("token Secret "+ns+"/"+s.Name, Fail, "does not exist", cmd)
		default:
			uid := s.Meta.Annotations[corev1.ServiceAccountUIDKey]
			st, detail := Pass, fmt.Sprintf("for ServiceAccount uid %s", tokenOr(uid, "(no uid annotation yet)"))
			bad := Fail
			if !s.Mounted && !s.Named {
				bad = Warn // nothing examined uses it; a consumer elsewhere would get 401
			}
			if uid != "" && uid != string(sa.UID) {
				st, detail = bad, fmt.Sprintf("issued for ServiceAccount uid %s, but %s/%s is now uid %s (re-created %s)", uid, ns, saName, sa.UID, sa.CreationTimestamp.UTC().Format(time.RFC3339))
			}
			if v := s.Meta.Labels[legacyInvalidSinceLabel]; v != "" {
				st, detail = bad, detail+"; labelled "+legacyInvalidSinceLabel+"="+v+": the authenticator rejects it"
			}
			if v := s.Meta.Labels["kubernetes.io/legacy-token-last-used"]; v != "" {
				detail += "; last used " + v
			}
			if s.Mounted {
				detail += "; mounted by " + label
			} else if s.Named {
				detail += "; named by the token"
			} else if st != Pass {
				detail += "; not mounted by " + label + " (a consumer outside the cluster that uses it gets 401; delete it when nothing does)"
			}
			rec.Step("token Secret "+ns+"/"+s.Name+" (metadata only)", st, detail, cmd)
		}
	}

	// 2. sa-recreated.
	if claimsMatch && in.Claims.SAUID != "" && in.Claims.SAUID != string(sa.UID) {
		plans := recreatedPlans(env, w, sa, label)
		return fail("sa-recreated", fmt.Sprintf("the token was issued for ServiceAccount %s/%s uid %s, but the ServiceAccount was deleted and re-created (uid now %s, created %s): the API server rejects it with \"service account UID … does not match claim\"%s",
			ns, saName, in.Claims.SAUID, sa.UID, sa.CreationTimestamp.UTC().Format(time.RFC3339), reviewQuote(in)), plans...)
	}
	for _, s := range secrets {
		if s.Missing || s.Meta == nil || !(s.Mounted || s.Named) {
			continue
		}
		if uid := s.Meta.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && uid != string(sa.UID) {
			plans := recreatedPlans(env, w, sa, label)
			who := "its tokens are rejected"
			if s.Mounted {
				who = label + " mounts it, so every call it makes gets 401"
			}
			return fail("sa-recreated", fmt.Sprintf("ServiceAccount %s/%s was deleted and re-created (uid %s, created %s) after its token Secret %s was issued for uid %s: %s (\"ServiceAccount UID (…) does not match claim (…)\"); the cluster-admin binding does not matter for a 401",
				ns, saName, sa.UID, sa.CreationTimestamp.UTC().Format(time.RFC3339), s.Name, uid, who), plans...)
		}
	}
	if tm.Projected || w == nil {
		var old []string
		for _, p := range pods {
			if tokenMountOf(&p.Spec, sa).Projected && p.CreationTimestamp.Before(&sa.CreationTimestamp) && p.DeletionTimestamp == nil {
				old = append(old, p.Name)
			}
		}
		if len(old) > 0 {
			rec.Step("pods older than the ServiceAccount", Fail, fmt.Sprintf("%s created before %s/%s (uid %s) was: their projected tokens carry the old uid", strings.Join(old, ", "), ns, saName, sa.UID),
				fmt.Sprintf("kubectl get pods -n %s -l '%s' -o custom-columns=NAME:.metadata.name,CREATED:.metadata.creationTimestamp", ns, selectorOf(w)))
			return fail("sa-recreated", fmt.Sprintf("ServiceAccount %s/%s was re-created (%s) after pod(s) %s started: their bound tokens name the old uid and get 401 until the pods are replaced",
				ns, saName, sa.CreationTimestamp.UTC().Format(time.RFC3339), strings.Join(old, ", ")), restartPlans(env, w, label)...)
		}
	}
	// 3. legacy-token-invalidated.
	for _, s := range secrets {
		if s.Meta != nil && s.Meta.Labels[legacyInvalidSinceLabel] != "" && (s.Mounted || s.Named) {
			return fail("legacy-token-invalidated", fmt.Sprintf("the legacy token Secret %s/%s carries %s=%s (set by the legacy token cleaner after a year unused): the authenticator rejects its token with 401",
				ns, s.Name, legacyInvalidSinceLabel, s.Meta.Labels[legacyInvalidSinceLabel]),
				fixes.NewRemoveInvalidSincePlan(env.FixDeps, ns, s.Name), fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "bound-token", Namespace: ns, ServiceAccount: saName, Workload: label}))
		}
	}
	// 4. legacy-secret-missing.
	for _, s := range secrets {
		if s.Missing && (s.Mounted || s.Named) {
			what := "the token names it"
			if s.Mounted {
				what = label + " mounts it"
			}
			return fail("legacy-secret-missing", fmt.Sprintf("the legacy token Secret %s/%s no longer exists but %s: its token is rejected (\"Token has been invalidated\")%s", ns, s.Name, what, reviewQuote(in)),
				fixes.NewTokenSecretPlan(env.FixDeps, fixes.TokenSecretSpec{Namespace: ns, ServiceAccount: saName, Name: s.Name}))
		}
	}
	if tokenGiven && claimsMatch {
		c := in.Claims
		// 5. pod-recreated.
		if c.PodName != "" && c.PodUID != "" {
			live, err := env.Inv.Workload(ctx, inventory.WorkloadRef{Kind: "Pod", Namespace: ns, Name: c.PodName})
			switch {
			case err == nil && live.UID != c.PodUID:
				return fail("pod-recreated", fmt.Sprintf("the token is bound to pod %s uid %s, but that pod is now uid %s (deleted and re-created): the token was copied out of its pod or its process outlived it%s", c.PodName, c.PodUID, live.UID, reviewQuote(in)),
					fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "reload", Namespace: ns, ServiceAccount: saName, Workload: label}))
			case apierr.KindOf(err) == apierr.NotFound:
				return fail("pod-recreated", fmt.Sprintf("the token is bound to pod %s (uid %s), which no longer exists: bound tokens die with their pod%s", c.PodName, c.PodUID, reviewQuote(in)),
					fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "reload", Namespace: ns, ServiceAccount: saName, Workload: label}))
			}
		}
		// 6. wrong-audience.
		if in.Review != nil && !in.Review.Authenticated && strings.Contains(strings.ToLower(in.Review.Error), "audience") {
			return fail("wrong-audience", fmt.Sprintf("the token's audience %s is not one the API server accepts%s: it was minted for another consumer (a projected token with its own audience)", strings.Join(c.Audiences, ","), reviewQuote(in)),
				fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "audience", Namespace: ns, ServiceAccount: saName, Workload: label, Audience: strings.Join(c.Audiences, ",")}))
		}
		// 7. token-expired-not-reloaded.
		expired := !c.Expires.IsZero() && now.After(c.Expires)
		if expired || (in.Review != nil && !in.Review.Authenticated && strings.Contains(strings.ToLower(in.Review.Error), "expired")) {
			return fail("token-expired-not-reloaded", fmt.Sprintf("the token expired at %s (issued %s): the kubelet rotates the file, so the client kept an old copy — Python client < 12.0.0, or a copied Configuration, never reloads it%s",
				c.Expires.UTC().Format(time.RFC3339), c.IssuedAt.UTC().Format(time.RFC3339), reviewQuote(in)),
				fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "reload", Namespace: ns, ServiceAccount: saName, Workload: label}))
		}
		if !c.WarnAfter.IsZero() && now.After(c.WarnAfter) {
			rec.Step("token age", Warn, fmt.Sprintf("past its warnafter (%s): accepted only because the cluster extends admission-injected tokens (--service-account-extend-token-expiration); the client does not reload the rotated file and gets 401 where tokens are not extended",
				c.WarnAfter.UTC().Format(time.RFC3339)), "")
		}
		// 8. no-authorization-header: the token is fine.
		if in.Review != nil && in.Review.Authenticated && rbacLooked && len(denied) == 0 {
			return fail("no-authorization-header", fmt.Sprintf("the token is fine: the API server authenticates it as %s and RBAC allows what the workload does, so a 401 means the client is not sending it (Python client 36.0.0/36.0.1 drops the Authorization header: requests arrive as system:anonymous)", in.Review.User.Username),
				fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "python-36", Namespace: ns, ServiceAccount: saName, Workload: label}))
		}
		if in.Review != nil && !in.Review.Authenticated {
			return fail(causeFromReviewError(in.Review.Error), fmt.Sprintf("the API server rejects the token%s", reviewQuote(in)),
				fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "reload", Namespace: ns, ServiceAccount: saName, Workload: label}))
		}
	}
	if w != nil {
		// Client versions the workload declares (7 and 8 from the cluster alone: advice).
		if maj, min, pat, where, ok := pythonClientVersion(&w.Template.Spec); ok {
			v := fmt.Sprintf("%d.%d.%d", maj, min, pat)
			switch {
			case maj == 36 && min == 0 && pat < 2:
				rec.Step("Python kubernetes client", Fail, where+" declares kubernetes=="+v+": it sends no Authorization header (python#2582)", "")
				return fail("no-authorization-header", fmt.Sprintf("%s uses the Python kubernetes client %s, which sends no Authorization header in-cluster: every call arrives as system:anonymous and gets 401 (or 403); pin >= 36.0.2 or 35.x", label, v),
					fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "python-36", Namespace: ns, ServiceAccount: saName, Workload: label}))
			case maj < 12:
				rec.Step("Python kubernetes client", Fail, where+" declares kubernetes=="+v+": it reads the token once and never reloads it", "")
				return fail("token-expired-not-reloaded", fmt.Sprintf("%s uses the Python kubernetes client %s (< 12.0.0), which reads the token once: after the kubelet rotates it (about 1 h) calls get 401 where tokens are not extended; upgrade to >= 12.0.0", label, v),
					fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "reload", Namespace: ns, ServiceAccount: saName, Workload: label}))
			default:
				rec.Step("Python kubernetes client", Pass, where+" declares kubernetes=="+v+" (reloads rotated tokens; not 36.0.0/36.0.1)", "")
			}
		}
		// 9. automount-disabled.
		if !tm.Projected && len(tm.Secrets) == 0 {
			return fail("automount-disabled", fmt.Sprintf("%s has automountServiceAccountToken: false (pod or ServiceAccount) and mounts no token: an in-cluster client has no token to send (a baked-in or copied token gets 401 once stale)", label),
				fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "automount", Namespace: ns, ServiceAccount: saName, Workload: label}))
		}
	}
	// Live, fix-class only: can the ServiceAccount authenticate right now?
	if !env.ReadOnly {
		liveTokenProbe(ctx, env, rec, ns, saName)
	} else {
		rec.Step("fresh token for "+ns+"/"+saName, Skip, "not minted: TokenRequest is a write, and this run is read-only", fmt.Sprintf("kubectl create token %s -n %s --duration 10m", saName, ns))
	}
	f.Summary = fmt.Sprintf("the tokens of %s (ServiceAccount %s/%s, uid %s) match the ServiceAccount; nothing found that gives 401", label, ns, saName, sa.UID)
	if len(denied) > 0 {
		f.Summary += fmt.Sprintf("; note: RBAC denies %s, which gives 403, not 401", strings.Join(denied, ", "))
	}
	if len(unread.errs) > 0 {
		// A token Secret (or the pods) could not be read: its uid and labels, which decide sa-recreated,
		// legacy-token-invalidated and legacy-secret-missing, are unknown.
		r := unread.result(unreadWhat[0])
		f.Status, f.Cause = r.Status, r.Cause
		f.Summary = fmt.Sprintf("nothing found that gives 401 in what %s's tokens could be checked against; but %s", label, r.Summary)
		if len(unread.errs) > 1 {
			f.Summary += fmt.Sprintf(" (and %d more; see the evidence)", len(unread.errs)-1)
		}
	}
	return f
}

func tokenOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func selectorOf(w *inventory.Workload) string {
	if w == nil || w.Selector == nil {
		return ""
	}
	return w.Selector.String()
}

func reviewQuote(in *tokenInput) string {
	if in == nil || in.Review == nil || in.Review.Authenticated || in.Review.Error == "" {
		return ""
	}
	return "; TokenReview: \"" + in.Review.Error + "\""
}

// causeFromReviewError maps the authenticator's message (k8s.io/kubernetes pkg/serviceaccount) to a cause.
func causeFromReviewError(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "service account uid") || strings.Contains(m, "serviceaccount uid") || strings.Contains(m, "has been deleted"):
		return "sa-recreated"
	case strings.Contains(m, "pod uid"):
		return "pod-recreated"
	case strings.Contains(m, "audience"):
		return "wrong-audience"
	case strings.Contains(m, "expired"):
		return "token-expired-not-reloaded"
	case strings.Contains(m, "has been invalidated"):
		return "legacy-secret-missing"
	}
	return "token-rejected"
}

func authCanICommand(verb, resource, sub, ns, user string) string {
	r := resource
	if sub != "" {
		r += "/" + sub
	}
	return fmt.Sprintf("kubectl auth can-i %s %s -n %s --as %s", verb, r, ns, user)
}

func rulesFor(denied []string) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, d := range denied {
		verb, res, _ := strings.Cut(d, " ")
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{res}, Verbs: []string{verb}})
	}
	return rules
}

// recreatedPlans are the fixes for a re-created ServiceAccount: a legacy consumer gets a new token
// Secret (and the workload is pointed at it); a projected-token workload is restarted.
func recreatedPlans(env *Env, w *inventory.Workload, sa *corev1.ServiceAccount, label string) []*fixes.Plan {
	ns := sa.Namespace
	if w != nil {
		tm := tokenMountOf(&w.Template.Spec, sa)
		if len(tm.Secrets) > 0 && w.Ref.Kind != "Pod" {
			return []*fixes.Plan{
				fixes.NewTokenSecretPlan(env.FixDeps, fixes.TokenSecretSpec{Namespace: ns, ServiceAccount: sa.Name, Workload: &fixes.WorkloadRef{Kind: w.Ref.Kind, Namespace: ns, Name: w.Ref.Name}, Replaces: tm.Secrets[0]}),
				fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "bound-token", Namespace: ns, ServiceAccount: sa.Name, Workload: label}),
			}
		}
		if tm.Projected {
			return restartPlans(env, w, label)
		}
	}
	return []*fixes.Plan{
		fixes.NewTokenSecretPlan(env.FixDeps, fixes.TokenSecretSpec{Namespace: ns, ServiceAccount: sa.Name}),
		fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "bound-token", Namespace: ns, ServiceAccount: sa.Name, Workload: label}),
	}
}

func restartPlans(env *Env, w *inventory.Workload, label string) []*fixes.Plan {
	if w == nil || w.Ref.Kind == "Pod" || w.Ref.Kind == "Job" || w.Ref.Kind == "CronJob" {
		return []*fixes.Plan{fixes.NewTokenAdvice(fixes.TokenAdvice{Kind: "recreate-pod", Workload: label})}
	}
	return []*fixes.Plan{fixes.NewRolloutRestartPlan(env.FixDeps, fixes.WorkloadRef{Kind: w.Ref.Kind, Namespace: w.Ref.Namespace, Name: w.Ref.Name})}
}

// liveTokenProbe mints a 10-minute token for the ServiceAccount (TokenRequest) and reviews it. The
// token is dropped at once; only the verdict is recorded.
func liveTokenProbe(ctx context.Context, env *Env, rec *Recorder, ns, sa string) {
	cmd := fmt.Sprintf("kubectl create token %s -n %s --duration 10m   # then TokenReview it", sa, ns)
	k, err := env.Inv.Kube()
	if err != nil {
		return
	}
	exp := int64(600)
	tr, err := k.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		rec.Step("fresh token for "+ns+"/"+sa+" (TokenRequest)", Skip, "could not mint one: "+err.Error(), cmd)
		return
	}
	st, err := env.Inv.TokenReview(ctx, tr.Status.Token, nil)
	tr.Status.Token = ""
	if err != nil {
		rec.Step("fresh token for "+ns+"/"+sa+" (TokenRequest + TokenReview)", Skip, "minted, but could not review it: "+err.Error(), cmd)
		return
	}
	if st.Authenticated {
		rec.Step("fresh token for "+ns+"/"+sa+" (TokenRequest + TokenReview)", Pass, "a token minted now authenticates as "+st.User.Username+": the ServiceAccount can authenticate; a 401 comes from the token the app holds", cmd)
	} else {
		rec.Step("fresh token for "+ns+"/"+sa+" (TokenRequest + TokenReview)", Fail, "even a token minted now is rejected: "+st.Error, cmd)
	}
}
