package probe

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenClaims are the claims of a Kubernetes ServiceAccount token that explain a 401, decoded locally
// from the JWT payload without verifying it. The token itself is never kept, printed or journaled:
// only these claims are (FAILURE-MODES §4: legacy Secret tokens and bound projected tokens).
type TokenClaims struct {
	Issuer    string    `json:"iss"`
	Audiences []string  `json:"aud,omitempty"`
	Subject   string    `json:"sub"`
	Expires   time.Time `json:"exp,omitzero"`
	IssuedAt  time.Time `json:"iat,omitzero"`
	NotBefore time.Time `json:"nbf,omitzero"`
	WarnAfter time.Time `json:"warnafter,omitzero"`
	// Legacy is true for a Secret-based token (iss "kubernetes/serviceaccount").
	Legacy     bool   `json:"legacy"`
	Namespace  string `json:"namespace"`
	SAName     string `json:"serviceAccountName"`
	SAUID      string `json:"serviceAccountUID"`
	SecretName string `json:"secretName,omitempty"`
	SecretUID  string `json:"secretUID,omitempty"`
	PodName    string `json:"podName,omitempty"`
	PodUID     string `json:"podUID,omitempty"`
	NodeName   string `json:"nodeName,omitempty"`
}

// LegacyIssuer is the issuer of Secret-based ServiceAccount tokens.
const LegacyIssuer = "kubernetes/serviceaccount"

// ErrNotJWT means the text is not a JWT (three base64url parts with a JSON payload).
var ErrNotJWT = errors.New("not a JWT (header.payload.signature)")

// DecodeToken decodes a token's claims without verifying its signature. Errors never quote the token.
func DecodeToken(token string) (*TokenClaims, error) {
	token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(token), "Bearer "))
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[1] == "" {
		return nil, ErrNotJWT
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("%w: the payload is not base64url", ErrNotJWT)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: the payload is not a JSON object", ErrNotJWT)
	}
	str := func(mm map[string]any, k string) string { s, _ := mm[k].(string); return s }
	num := func(mm map[string]any, k string) time.Time {
		switch v := mm[k].(type) {
		case float64:
			if v > 0 && v < 1e11 {
				return time.Unix(int64(v), 0).UTC()
			}
		case json.Number:
			if n, err := v.Int64(); err == nil && n > 0 && n < 1e11 {
				return time.Unix(n, 0).UTC()
			}
		}
		return time.Time{}
	}
	c := &TokenClaims{Issuer: str(m, "iss"), Subject: str(m, "sub"), Expires: num(m, "exp"), IssuedAt: num(m, "iat"), NotBefore: num(m, "nbf")}
	switch a := m["aud"].(type) {
	case string:
		c.Audiences = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				c.Audiences = append(c.Audiences, s)
			}
		}
	}
	if kc, ok := m["kubernetes.io"].(map[string]any); ok {
		c.Namespace = str(kc, "namespace")
		c.WarnAfter = num(kc, "warnafter")
		if sa, ok := kc["serviceaccount"].(map[string]any); ok {
			c.SAName, c.SAUID = str(sa, "name"), str(sa, "uid")
		}
		if p, ok := kc["pod"].(map[string]any); ok {
			c.PodName, c.PodUID = str(p, "name"), str(p, "uid")
		}
		if s, ok := kc["secret"].(map[string]any); ok {
			c.SecretName, c.SecretUID = str(s, "name"), str(s, "uid")
		}
		if n, ok := kc["node"].(map[string]any); ok {
			c.NodeName = str(n, "name")
		}
	}
	if c.Issuer == LegacyIssuer || str(m, "kubernetes.io/serviceaccount/service-account.uid") != "" {
		c.Legacy = true
		c.Namespace = str(m, "kubernetes.io/serviceaccount/namespace")
		c.SAName = str(m, "kubernetes.io/serviceaccount/service-account.name")
		c.SAUID = str(m, "kubernetes.io/serviceaccount/service-account.uid")
		c.SecretName = str(m, "kubernetes.io/serviceaccount/secret.name")
	}
	if c.SAName == "" {
		// sub is system:serviceaccount:NS:NAME for both kinds.
		if rest, ok := strings.CutPrefix(c.Subject, "system:serviceaccount:"); ok {
			if ns, name, ok := strings.Cut(rest, ":"); ok {
				c.SAName = name
				if c.Namespace == "" {
					c.Namespace = ns
				}
			}
		}
	}
	return c, nil
}

// Describe renders the claims a person needs, and nothing secret: iss, aud, sub, exp, iat,
// warnafter, the ServiceAccount/pod/Secret names and UIDs.
func (c *TokenClaims) Describe() string {
	var b []string
	add := func(k, v string) {
		if v != "" {
			b = append(b, k+"="+v)
		}
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	kind := "bound"
	if c.Legacy {
		kind = "legacy Secret-based"
	}
	add("kind", kind)
	add("iss", c.Issuer)
	add("aud", strings.Join(c.Audiences, ","))
	add("sub", c.Subject)
	add("iat", ts(c.IssuedAt))
	add("exp", ts(c.Expires))
	add("warnafter", ts(c.WarnAfter))
	add("serviceaccount.uid", c.SAUID)
	add("pod", c.PodName)
	add("pod.uid", c.PodUID)
	add("secret", c.SecretName)
	return strings.Join(b, " ")
}
