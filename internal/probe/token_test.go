package probe

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func jwt(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl"
}

func TestDecodeTokenBoundAndLegacy(t *testing.T) {
	bound := jwt(map[string]any{"iss": "https://kubernetes.default.svc.cluster.local", "aud": []string{"https://kubernetes.default.svc.cluster.local"},
		"sub": "system:serviceaccount:default:orchestrai-sa", "exp": 1900000000, "iat": 1800000000,
		"kubernetes.io": map[string]any{"namespace": "default", "warnafter": 1800003600,
			"serviceaccount": map[string]any{"name": "orchestrai-sa", "uid": "u-1"}, "pod": map[string]any{"name": "p", "uid": "p-1"}}})
	c, err := DecodeToken("Bearer " + bound + "\n")
	if err != nil || c.Legacy || c.SAName != "orchestrai-sa" || c.SAUID != "u-1" || c.PodUID != "p-1" || c.WarnAfter.IsZero() || c.Expires.Unix() != 1900000000 {
		t.Fatalf("%+v %v", c, err)
	}
	if strings.Contains(c.Describe(), "c2lnbmF0dXJl") {
		t.Fatal("Describe shows the signature")
	}
	legacy := jwt(map[string]any{"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "default",
		"kubernetes.io/serviceaccount/secret.name": "s", "kubernetes.io/serviceaccount/service-account.name": "orchestrai-sa",
		"kubernetes.io/serviceaccount/service-account.uid": "old", "sub": "system:serviceaccount:default:orchestrai-sa"})
	c, err = DecodeToken(legacy)
	if err != nil || !c.Legacy || c.SecretName != "s" || c.SAUID != "old" || c.Namespace != "default" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c"} {
		if _, err := DecodeToken(bad); err == nil {
			t.Errorf("DecodeToken(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the token: %v", err)
		}
	}
}

func FuzzDecodeToken(f *testing.F) {
	f.Add(jwt(map[string]any{"iss": "kubernetes/serviceaccount", "aud": "x", "exp": 1e18}))
	f.Add("a.e30.c")
	f.Add("...")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeToken(s)
		if err == nil {
			_ = c.Describe()
		}
	})
}
