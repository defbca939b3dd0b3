package model

import "testing"

func TestParseServiceName(t *testing.T) {
	cases := []struct {
		host, domain, ns, name string
		form                   NameForm
	}{
		{"api.prod.svc.corp.internal.", "corp.internal", "prod", "api", FormFQDN},
		{"development-agent.default.svc.cluster.local", "", "default", "development-agent", FormFQDN},
		{"Development-Agent.Default.svc", "", "default", "development-agent", FormSvc},
		{"environment-manager.default", "", "default", "environment-manager", FormShort},
		{"a.b.c.svc.cluster.local", "", "", "", NotServiceName},
		{"api_x.default.svc.cluster.local", "", "", "", NotServiceName},
		{".default.svc.cluster.local", "", "", "", NotServiceName},
		{"34.118.231.33", "", "", "", NotServiceName},
		{"api.internal.example.com", "", "", "", NotServiceName},
		{"", "", "", "", NotServiceName},
	}
	for _, c := range cases {
		ns, name, form := ParseServiceName(c.host, c.domain)
		if ns != c.ns || name != c.name || form != c.form {
			t.Errorf("%q in %q: got %q %q %v, want %q %q %v", c.host, c.domain, ns, name, form, c.ns, c.name, c.form)
		}
	}
	if got := ServiceFQDN("default", "kube-dns", ""); got != "kube-dns.default.svc.cluster.local." {
		t.Fatal(got)
	}
}
