package report

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

func TestRedactMasksSecrets(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl-_x"
	tests := []struct {
		name, in, want string
	}{
		{"authorization_header", "Authorization: Bearer abc", "Authorization: Bearer [REDACTED]"},
		{"authorization_header_lowercase", `-H "authorization: bearer xyz"`, `-H "authorization: bearer [REDACTED]"`},
		{"authorization_basic", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"},
		{"bearer_opaque_token", "sent Bearer sk8sT0ken.abc/def+ghi== to the API", "sent Bearer [REDACTED] to the API"},
		{"bearer_url_encoded_space", "?auth=Bearer%20Zm9vYmFyYmF6MTIz", "?auth=Bearer%20[REDACTED]"},
		{"jwt_alone", "token " + jwt + " rejected", "token [REDACTED] rejected"},
		{"jwt_after_bearer", "Bearer " + jwt, "Bearer [REDACTED]"},
		{"jwt_unsigned", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[REDACTED]"},
		{"jwt_in_json", `{"token":"` + jwt + `"}`, `{"token":"[REDACTED]"}`},
		{"ya29_access_token", "ya29.a0AfB_byC-abc.def_123 expires in 3599s", "[REDACTED] expires in 3599s"},
		{"google_refresh_token", "refresh 1//0gLxYz-abcdefghijklmnopqrstuvwxyz", "refresh [REDACTED]"},
		{"pem_rsa_block", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\ndone",
			"key:\n[REDACTED]\ndone"},
		{"pem_pkcs8_in_json_string", `"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"`,
			`"private_key": "[REDACTED]"`},
		{"pem_truncated", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE…", "[REDACTED]"},
		{"two_pem_blocks", "-----BEGIN OPENSSH PRIVATE KEY-----\na\n-----END OPENSSH PRIVATE KEY----- and -----BEGIN PRIVATE KEY-----\nb\n-----END PRIVATE KEY-----",
			"[REDACTED] and [REDACTED]"},
		{"query_token", "https://x.example/cb?state=1&token=abc123&next=/", "https://x.example/cb?state=1&token=[REDACTED]&next=/"},
		{"query_access_token", "GET /v1/x?access_token=opaque", "GET /v1/x?access_token=[REDACTED]"},
		{"password_kv", "DB_PASSWORD=hunter2 PORT=5432", "DB_PASSWORD=[REDACTED] PORT=5432"},
		{"password_quoted", `password="correct horse battery" user=bob`, `password=[REDACTED] user=bob`},
		{"secret_kv", "client_secret=GOCSPX-abc", "client_secret=[REDACTED]"},
		{"from_literal", "kubectl create secret generic db --from-literal=password=hunter2", "kubectl create secret generic db --from-literal=password=[REDACTED]"},
		{"token_flag_equals", "kubectl --token=abc get pods", "kubectl --token=[REDACTED] get pods"},
		{"token_flag_space", "kubectl --token abc get pods", "kubectl --token [REDACTED] get pods"},
		{"api_key", "?key=1&api_key=AIzaSyXYZ", "?key=1&api_key=[REDACTED]"},
		{"json_password_member", `{"password": "p@ss\"w0rd", "user": "bob"}`, `{"password": "[REDACTED]", "user": "bob"}`},
		{"url_password", "postgres://app:s3cret@10.2.0.1:5432/db", "postgres://app:[REDACTED]@10.2.0.1:5432/db"},
		{"idempotent", "token=[REDACTED] Bearer [REDACTED]", "token=[REDACTED] Bearer [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Redact(got); again != got {
				t.Errorf("Redact is not idempotent: %q → %q", got, again)
			}
		})
	}
}

func TestRedactKeepsOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"",
		"Cloud Run calls development-agent.default.svc.cluster.local, a ClusterIP (34.118.231.33).",
		"services range 34.118.224.0/20, pods 172.16.0.0/16, nodes 10.132.0.0/20, API 10.132.0.2:443",
		"IPv6 fd00::1 and [2001:db8::1]:53",
		"projects/dev-orchestra/locations/europe-west1/clusters/dev-orchestra-cluster",
		"gke_dev-orchestra_europe-west1_dev-orchestra-cluster",
		"The token Secret orchestrai-sa-token-x7k2p predates ServiceAccount orchestrai-sa.",
		"401 Unauthorized: the API server rejected the bearer token.",
		"Bearer tokens are accepted; basic authentication is disabled.",
		"kubectl get secret orchestrai-sa-token -n default -o yaml",
		"gcloud auth print-access-token",
		"--token-file /var/run/secrets/kubernetes.io/serviceaccount/token",
		"secretName: orchestrai-sa-token-x7k2p",
		"tokenExpirationSeconds=3600 is fine",
		"roles/trafficdirector.client is missing on sa@dev-orchestra.iam.gserviceaccount.com",
		"dig @169.254.169.254 development-agent.default.svc.cluster.local A +short",
		"http://environment-manager.default.svc.cluster.local:80",
		"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----",
		"HTTP/1.1 101 Switching Protocols; Upgrade: websocket",
		"日本語のテキスト → ünïcode ✓",
		"token=",
	} {
		if got := Redact(s); got != s {
			t.Errorf("Redact changed ordinary text:\n  in %q\n got %q", s, got)
		}
	}
}

func TestRedactLeavesNoSecretInTheFixture(t *testing.T) {
	for _, r := range fixtures()[4].results() {
		for _, e := range r.Evidence {
			for _, s := range []string{e.Detail, e.Command} {
				out := Redact(s)
				for _, secret := range secretValues {
					if strings.Contains(out, secret) {
						t.Errorf("Redact(%q) leaks %q: %q", s, secret, out)
					}
				}
			}
		}
	}
}

// Every format carries the redaction, JSON and terminal text included (a terminal is screen-shared).
func TestEveryFormatIsRedacted(t *testing.T) {
	secret := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
	res := checks.Result{ID: "sa-token-401", Status: checks.Fail, Cause: "x", Summary: "token " + secret,
		Evidence: []checks.Evidence{{Step: "token", Status: checks.Fail, Detail: "Authorization: Bearer " + secret, Command: "curl -H 'Authorization: Bearer " + secret + "'"}},
		Fixes:    []*fixes.Plan{{ID: "f", Title: "t", Commands: []string{"kubectl --token=" + secret + " get pods"}}}}
	rep := New("audit", "v", checks.Target{}, time.Now(), 0, []checks.Result{res})
	var out strings.Builder
	for name, write := range map[string]func(io.Writer, *Report) error{"json": WriteJSON, "markdown": WriteMarkdown, "junit": WriteJUnit,
		"text": func(w io.Writer, r *Report) error { return NewText(w, TextOptions{Verbose: true}).Final(r) }} {
		out.Reset()
		if err := write(&out, rep); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "c2lnbmF0dXJl") {
			t.Errorf("%s output carries the token:\n%s", name, out.String())
		}
	}
	out.Reset()
	NewText(&out, TextOptions{Verbose: true}).Event(checks.Event{Kind: checks.EventFinished, CheckID: res.ID, Result: &res})
	if strings.Contains(out.String(), "c2lnbmF0dXJl") {
		t.Errorf("streamed text carries the token: %s", out.String())
	}
}
