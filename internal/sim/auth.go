package sim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
)

// Issuer is the service-account token issuer (and default audience) of the demo cluster, as on GKE.
const Issuer = "https://container.googleapis.com/v1/projects/" + Project + "/locations/" + Region + "/clusters/" + Cluster

// legacyIssuer is the issuer of legacy Secret-based tokens.
const legacyIssuer = "kubernetes/serviceaccount"

var (
	signingKeyOnce sync.Once
	signingKey     *rsa.PrivateKey
	signingKeyErr  error
)

// key returns the world's service-account signing key (one per process: generating RSA keys is slow,
// and nothing outside the world can see it).
func key() (*rsa.PrivateKey, error) {
	signingKeyOnce.Do(func() { signingKey, signingKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	return signingKey, signingKeyErr
}

func keyID() string {
	k, err := key()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(k.N.Bytes())
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

var b64 = base64.RawURLEncoding

// mint signs claims as an RS256 JWT.
func mint(claims map[string]any) (string, error) {
	k, err := key()
	if err != nil {
		return "", err
	}
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": keyID()})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// verify checks a JWT's signature against the world's key and returns its claims.
func verify(tok string) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("invalid bearer token")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("invalid bearer token")
	}
	k, err := key()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, errors.New("invalid bearer token")
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("invalid bearer token")
	}
	claims := map[string]any{}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, errors.New("invalid bearer token")
	}
	return claims, nil
}

// legacyTokenFor mints the token a legacy token Secret holds.
func legacyTokenFor(ns, sa, saUID, secret string) (string, error) {
	return mint(map[string]any{
		"iss":                                    legacyIssuer,
		"kubernetes.io/serviceaccount/namespace": ns,
		"kubernetes.io/serviceaccount/secret.name":          secret,
		"kubernetes.io/serviceaccount/service-account.name": sa,
		"kubernetes.io/serviceaccount/service-account.uid":  saUID,
		"sub": "system:serviceaccount:" + ns + ":" + sa,
	})
}

// authenticate validates a bearer token as kube-apiserver's service-account authenticators do
// (k8s.io/kubernetes pkg/serviceaccount legacy.go and claims.go, with --service-account-lookup), with
// their error messages.
func (k *kubeSide) authenticate(tok string, audiences []string) (authnv1.UserInfo, []string, error) {
	claims, err := verify(tok)
	if err != nil {
		return authnv1.UserInfo{}, nil, err
	}
	str := func(c map[string]any, name string) string { s, _ := c[name].(string); return s }
	if len(audiences) == 0 {
		audiences = []string{Issuer}
	}
	switch str(claims, "iss") {
	case legacyIssuer:
		ns := str(claims, "kubernetes.io/serviceaccount/namespace")
		saName := str(claims, "kubernetes.io/serviceaccount/service-account.name")
		saUID := str(claims, "kubernetes.io/serviceaccount/service-account.uid")
		secName := str(claims, "kubernetes.io/serviceaccount/secret.name")
		sec, err := getT[*corev1.Secret](k, gvrSecrets, ns, secName)
		if err != nil || sec.DeletionTimestamp != nil {
			return authnv1.UserInfo{}, nil, errors.New("Token has been invalidated")
		}
		if string(sec.Data[corev1.ServiceAccountTokenKey]) != tok {
			return authnv1.UserInfo{}, nil, errors.New("Token does not match server's copy")
		}
		sa, err := getT[*corev1.ServiceAccount](k, gvrServiceAccounts, ns, saName)
		if err != nil {
			return authnv1.UserInfo{}, nil, err
		}
		if sa.DeletionTimestamp != nil {
			return authnv1.UserInfo{}, nil, fmt.Errorf("ServiceAccount %s/%s has been deleted", ns, saName)
		}
		if string(sa.UID) != saUID {
			return authnv1.UserInfo{}, nil, fmt.Errorf("ServiceAccount UID (%s) does not match claim (%s)", sa.UID, saUID)
		}
		if sec.Labels["kubernetes.io/legacy-token-invalid-since"] != "" {
			return authnv1.UserInfo{}, nil, errors.New("Token has been invalidated")
		}
		return saUser(ns, saName, saUID, nil), audiences, nil
	case Issuer:
		now := time.Now().Unix()
		num := func(name string) int64 { f, _ := claims[name].(float64); return int64(f) }
		if exp := num("exp"); exp != 0 && now > exp {
			return authnv1.UserInfo{}, nil, errors.New("service account token has expired")
		}
		if nbf := num("nbf"); nbf != 0 && now < nbf-60 {
			return authnv1.UserInfo{}, nil, errors.New("service account token is not valid yet")
		}
		var aud []string
		switch a := claims["aud"].(type) {
		case string:
			aud = []string{a}
		case []any:
			for _, x := range a {
				if s, ok := x.(string); ok {
					aud = append(aud, s)
				}
			}
		}
		var matched []string
		for _, a := range aud {
			if slices.Contains(audiences, a) {
				matched = append(matched, a)
			}
		}
		if len(matched) == 0 {
			ab, _ := json.Marshal(aud)
			tb, _ := json.Marshal(audiences)
			return authnv1.UserInfo{}, nil, fmt.Errorf("token audiences %s is invalid for the target audiences %s", ab, tb)
		}
		kc, _ := claims["kubernetes.io"].(map[string]any)
		ns := str(kc, "namespace")
		sac, _ := kc["serviceaccount"].(map[string]any)
		saName, saUID := str(sac, "name"), str(sac, "uid")
		sa, err := getT[*corev1.ServiceAccount](k, gvrServiceAccounts, ns, saName)
		if err != nil {
			return authnv1.UserInfo{}, nil, err
		}
		if sa.DeletionTimestamp != nil {
			return authnv1.UserInfo{}, nil, fmt.Errorf("service account %s/%s has been deleted", ns, saName)
		}
		if string(sa.UID) != saUID {
			return authnv1.UserInfo{}, nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, saUID)
		}
		extra := map[string]authnv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=" + str(claims, "jti")}}
		if pc, ok := kc["pod"].(map[string]any); ok {
			pod, err := getT[*corev1.Pod](k, gvrPods, ns, str(pc, "name"))
			if err != nil {
				return authnv1.UserInfo{}, nil, err
			}
			if string(pod.UID) != str(pc, "uid") {
				return authnv1.UserInfo{}, nil, fmt.Errorf("pod UID (%s) does not match claim (%s)", pod.UID, str(pc, "uid"))
			}
			extra["authentication.kubernetes.io/pod-name"] = authnv1.ExtraValue{pod.Name}
			extra["authentication.kubernetes.io/pod-uid"] = authnv1.ExtraValue{string(pod.UID)}
		}
		return saUser(ns, saName, saUID, extra), matched, nil
	}
	return authnv1.UserInfo{}, nil, errors.New("invalid bearer token")
}

func saUser(ns, name, uid string, extra map[string]authnv1.ExtraValue) authnv1.UserInfo {
	return authnv1.UserInfo{Username: "system:serviceaccount:" + ns + ":" + name, UID: uid,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}, Extra: extra}
}

// demoUserInfo is who the demo's kubeconfig authenticates as.
func demoUserInfo() authnv1.UserInfo {
	return authnv1.UserInfo{Username: DemoUser, Groups: []string{"system:authenticated"}}
}

// reviews answers the non-persistent review APIs and TokenRequest (create on serviceaccounts/token).
// It runs inside the fake's lock, so it reads objects from the tracker, never through the clientset.
func (k *kubeSide) reviews(action clienttesting.Action) (bool, runtime.Object, error) {
	a, ok := action.(clienttesting.CreateActionImpl)
	if !ok {
		return false, nil, nil
	}
	res := a.GetResource()
	switch {
	case res.Resource == "serviceaccounts" && a.GetSubresource() == "token":
		tr, ok := a.GetObject().(*authnv1.TokenRequest)
		if !ok {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("expected a TokenRequest, got %T", a.GetObject()))
		}
		out, err := k.tokenRequest(a.GetNamespace(), a.Name, tr)
		return true, out, err
	case a.GetSubresource() != "":
		return false, nil, nil
	case res.Group == "authentication.k8s.io" && res.Resource == "tokenreviews":
		tr, ok := a.GetObject().(*authnv1.TokenReview)
		if !ok {
			return true, nil, apierrors.NewBadRequest("expected a TokenReview")
		}
		out := tr.DeepCopy()
		user, auds, err := k.authenticate(tr.Spec.Token, tr.Spec.Audiences)
		if err != nil {
			out.Status = authnv1.TokenReviewStatus{Authenticated: false, Error: err.Error()}
		} else {
			out.Status = authnv1.TokenReviewStatus{Authenticated: true, User: user, Audiences: auds}
		}
		out.Spec.Token = "" // the API server does not echo credentials back in what it logs; neither do we
		return true, out, nil
	case res.Group == "authentication.k8s.io" && res.Resource == "selfsubjectreviews":
		out := &authnv1.SelfSubjectReview{TypeMeta: metav1.TypeMeta{Kind: "SelfSubjectReview", APIVersion: "authentication.k8s.io/v1"},
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()}, Status: authnv1.SelfSubjectReviewStatus{UserInfo: demoUserInfo()}}
		return true, out, nil
	case res.Group == "authorization.k8s.io" && res.Resource == "selfsubjectaccessreviews":
		r, ok := a.GetObject().(*authzv1.SelfSubjectAccessReview)
		if !ok {
			return true, nil, apierrors.NewBadRequest("expected a SelfSubjectAccessReview")
		}
		out := r.DeepCopy()
		u := demoUserInfo()
		out.Status = k.authorize(u.Username, u.Groups, r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
		return true, out, nil
	case res.Group == "authorization.k8s.io" && (res.Resource == "subjectaccessreviews" || res.Resource == "localsubjectaccessreviews"):
		var spec authzv1.SubjectAccessReviewSpec
		switch r := a.GetObject().(type) {
		case *authzv1.SubjectAccessReview:
			spec = r.Spec
			out := r.DeepCopy()
			out.Status = k.authorize(spec.User, spec.Groups, spec.ResourceAttributes, spec.NonResourceAttributes)
			return true, out, nil
		case *authzv1.LocalSubjectAccessReview:
			spec = r.Spec
			if spec.ResourceAttributes != nil {
				spec.ResourceAttributes.Namespace = a.GetNamespace()
			}
			out := r.DeepCopy()
			out.Status = k.authorize(spec.User, spec.Groups, spec.ResourceAttributes, spec.NonResourceAttributes)
			return true, out, nil
		}
		return true, nil, apierrors.NewBadRequest("expected a SubjectAccessReview")
	}
	return false, nil, nil
}

// tokenRequest mints a bound service-account token, as kube-apiserver's TokenRequest does.
func (k *kubeSide) tokenRequest(ns, saName string, tr *authnv1.TokenRequest) (*authnv1.TokenRequest, error) {
	sa, err := getT[*corev1.ServiceAccount](k, gvrServiceAccounts, ns, saName)
	if err != nil {
		return nil, err
	}
	exp := int64(3600)
	if tr.Spec.ExpirationSeconds != nil {
		exp = *tr.Spec.ExpirationSeconds
	}
	if exp < 600 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: "authentication.k8s.io", Kind: "TokenRequest"}, saName, nil)
	}
	auds := tr.Spec.Audiences
	if len(auds) == 0 {
		auds = []string{Issuer}
	}
	now := time.Now()
	kc := map[string]any{"namespace": ns, "serviceaccount": map[string]any{"name": sa.Name, "uid": string(sa.UID)}}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		switch ref.Kind {
		case "Pod":
			pod, err := getT[*corev1.Pod](k, gvrPods, ns, ref.Name)
			if err != nil {
				return nil, err
			}
			if ref.UID != "" && ref.UID != pod.UID {
				return nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, ref.Name,
					fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
			}
			if pod.Spec.ServiceAccountName != sa.Name {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", sa.Name))
			}
			kc["pod"] = map[string]any{"name": pod.Name, "uid": string(pod.UID)}
			kc["node"] = map[string]any{"name": pod.Spec.NodeName}
		case "Secret":
			sec, err := getT[*corev1.Secret](k, gvrSecrets, ns, ref.Name)
			if err != nil {
				return nil, err
			}
			kc["secret"] = map[string]any{"name": sec.Name, "uid": string(sec.UID)}
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of kind %q", ref.Kind))
		}
	}
	tok, err := mint(map[string]any{
		"aud": auds, "exp": now.Unix() + exp, "iat": now.Unix(), "nbf": now.Unix(), "iss": Issuer,
		"jti": newUID(), "sub": "system:serviceaccount:" + ns + ":" + sa.Name, "kubernetes.io": kc,
	})
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out := tr.DeepCopy()
	out.Name, out.Namespace = sa.Name, ns
	out.CreationTimestamp = metav1.NewTime(now.Truncate(time.Second))
	out.Spec.Audiences = auds
	out.Spec.ExpirationSeconds = &exp
	out.Status = authnv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(exp) * time.Second).Truncate(time.Second))}
	return out, nil
}

// authorize evaluates RBAC for a user, then GKE's IAM authorizer for the demo user (who holds
// Kubernetes Engine Admin, as in seed 000's prerequisites).
func (k *kubeSide) authorize(user string, groups []string, ra *authzv1.ResourceAttributes, nra *authzv1.NonResourceAttributes) authzv1.SubjectAccessReviewStatus {
	if ra == nil && nra == nil {
		return authzv1.SubjectAccessReviewStatus{EvaluationError: "spec.resourceAttributes or spec.nonResourceAttributes is required"}
	}
	if reason, ok := k.rbacAllows(user, groups, ra, nra); ok {
		return authzv1.SubjectAccessReviewStatus{Allowed: true, Reason: reason}
	}
	if user == DemoUser {
		return authzv1.SubjectAccessReviewStatus{Allowed: true}
	}
	return authzv1.SubjectAccessReviewStatus{Allowed: false}
}

func (k *kubeSide) rbacAllows(user string, groups []string, ra *authzv1.ResourceAttributes, nra *authzv1.NonResourceAttributes) (string, bool) {
	matchSubject := func(s rbacv1.Subject, bindingNS string) bool {
		switch s.Kind {
		case rbacv1.UserKind:
			return s.Name == user
		case rbacv1.GroupKind:
			return slices.Contains(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			return user == "system:serviceaccount:"+ns+":"+s.Name
		}
		return false
	}
	subjectDesc := func(s rbacv1.Subject, bindingNS string) string {
		if s.Kind == rbacv1.ServiceAccountKind {
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			return fmt.Sprintf("ServiceAccount %q", s.Name+"/"+ns)
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name)
	}
	rulesOf := func(ref rbacv1.RoleRef, ns string) []rbacv1.PolicyRule {
		if ref.Kind == "ClusterRole" {
			if cr, err := getT[*rbacv1.ClusterRole](k, gvrClusterRoles, "", ref.Name); err == nil {
				return cr.Rules
			}
			return nil
		}
		if r, err := getT[*rbacv1.Role](k, gvrRoles, ns, ref.Name); err == nil {
			return r.Rules
		}
		return nil
	}
	allows := func(rules []rbacv1.PolicyRule) bool {
		for _, r := range rules {
			if ruleAllows(r, ra, nra) {
				return true
			}
		}
		return false
	}
	if l, err := k.tracker.List(gvrClusterRBs, rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"), ""); err == nil {
		for _, b := range l.(*rbacv1.ClusterRoleBindingList).Items {
			for _, s := range b.Subjects {
				if matchSubject(s, "") && allows(rulesOf(b.RoleRef, "")) {
					return fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of ClusterRole %q to %s", b.Name, b.RoleRef.Name, subjectDesc(s, "")), true
				}
			}
		}
	}
	if ra != nil && ra.Namespace != "" {
		if l, err := k.tracker.List(gvrRoleBindings, rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), ra.Namespace); err == nil {
			for _, b := range l.(*rbacv1.RoleBindingList).Items {
				for _, s := range b.Subjects {
					if matchSubject(s, b.Namespace) && allows(rulesOf(b.RoleRef, b.Namespace)) {
						return fmt.Sprintf("RBAC: allowed by RoleBinding %q of %s %q to %s", b.Name+"/"+b.Namespace, b.RoleRef.Kind, b.RoleRef.Name, subjectDesc(s, b.Namespace)), true
					}
				}
			}
		}
	}
	return "", false
}

func ruleAllows(r rbacv1.PolicyRule, ra *authzv1.ResourceAttributes, nra *authzv1.NonResourceAttributes) bool {
	has := func(list []string, v string) bool { return slices.Contains(list, "*") || slices.Contains(list, v) }
	if nra != nil {
		if !has(r.Verbs, nra.Verb) {
			return false
		}
		for _, u := range r.NonResourceURLs {
			if u == "*" || u == nra.Path || (strings.HasSuffix(u, "*") && strings.HasPrefix(nra.Path, strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !has(r.Verbs, ra.Verb) || !has(r.APIGroups, ra.Group) {
		return false
	}
	res := ra.Resource
	if ra.Subresource != "" {
		res += "/" + ra.Subresource
	}
	if !has(r.Resources, res) && !(ra.Subresource != "" && slices.Contains(r.Resources, "*/"+ra.Subresource)) {
		return false
	}
	return len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, ra.Name)
}
