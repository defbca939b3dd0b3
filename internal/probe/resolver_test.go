package probe_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/probe"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChooseResolver(t *testing.T) {
	cases := []struct {
		name    string
		flag    string
		dmi     string // "" = file absent
		resolv  string // "" = file absent
		want    string
		why     string
		wantErr string
	}{
		{name: "flag_ip_default_port", flag: "10.0.0.2", dmi: "Google Compute Engine\n", want: "10.0.0.2:53", why: "--resolver"},
		{name: "flag_with_port", flag: "127.0.0.1:5353", want: "127.0.0.1:5353", why: "--resolver"},
		{name: "flag_ipv6_bracketed", flag: "[fd00::1]:5353", want: "[fd00::1]:5353", why: "--resolver"},
		{name: "flag_ipv6_bare", flag: "fd00::1", want: "[fd00::1]:53", why: "--resolver"},
		{name: "flag_hostname", flag: "dns.internal:53", want: "dns.internal:53", why: "--resolver"},
		{name: "flag_bad_port", flag: "10.0.0.2:dns", wantErr: "port"},
		{name: "flag_port_zero", flag: "10.0.0.2:0", wantErr: "port"},
		{name: "flag_port_too_big", flag: "10.0.0.2:70000", wantErr: "port"},
		{name: "flag_url", flag: "udp://10.0.0.2", wantErr: "URL"},
		{name: "flag_garbage", flag: "not a host!", wantErr: "--resolver"},
		{name: "gce_product_name", dmi: "Google Compute Engine\n", resolv: "nameserver 192.0.2.53\n",
			want: "169.254.169.254:53", why: "running on GCE: the VPC resolver"},
		{name: "gce_old_product_name", dmi: "Google\n", want: "169.254.169.254:53", why: "running on GCE"},
		{name: "not_gce_uses_resolv_conf", dmi: "Standard PC (Q35 + ICH9, 2009)\n",
			resolv: "# generated\nsearch example.com\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n",
			want:   "192.0.2.53:53", why: "system resolver"},
		{name: "no_dmi_file_skips_bad_entries", resolv: "; comment\nnameserver\nnameserver not-an-ip\n  nameserver   2001:db8::53 # v6\n",
			want: "[2001:db8::53]:53", why: "system resolver"},
		{name: "nothing", dmi: "VirtualBox\n", resolv: "search example.com\n", wantErr: "--resolver"},
		{name: "no_files_at_all", wantErr: "--resolver"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			env := probe.HostEnvironment{
				DMIProductNamePath: filepath.Join(dir, "product_name"),
				ResolvConfPath:     filepath.Join(dir, "resolv.conf"),
			}
			if c.dmi != "" {
				writeFile(t, dir, "product_name", c.dmi)
			}
			if c.resolv != "" {
				writeFile(t, dir, "resolv.conf", c.resolv)
			}
			r, err := probe.ChooseResolver(c.flag, env)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Addr != c.want || !strings.Contains(r.Why, c.why) {
				t.Errorf("got %+v, want %s because %q", r, c.want, c.why)
			}
		})
	}
}

func TestStaticEnvironment(t *testing.T) {
	r, err := probe.ChooseResolver("", probe.StaticEnvironment{Resolvers: []string{"127.0.0.53"}})
	if err != nil || r.Addr != "127.0.0.53:53" {
		t.Fatalf("%+v, %v", r, err)
	}
	r, err = probe.ChooseResolver("", probe.StaticEnvironment{GCE: true})
	if err != nil || r.Addr != probe.VPCResolver {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestParseResolvConf(t *testing.T) {
	got := probe.ParseResolvConf(strings.NewReader("nameserver 10.0.0.1\noptions ndots:5\nnameserver fe80::1%eth0\n#nameserver 1.1.1.1\nnameserver 10.0.0.2 ; trailing\n"))
	want := []string{"10.0.0.1", "fe80::1%eth0", "10.0.0.2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestNormalizeName(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	cases := []struct {
		in, want, wantErr string
	}{
		{in: "development-agent.default.svc.cluster.local", want: "development-agent.default.svc.cluster.local."},
		{in: "  Environment-Manager.Default.SVC.cluster.local.  ", want: "environment-manager.default.svc.cluster.local."},
		{in: "_http._tcp.svc.example", want: "_http._tcp.svc.example."},
		{in: "single", want: "single."},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example."},
		{in: long63 + ".example", want: long63 + ".example."},
		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: ".", wantErr: "root"},
		{in: "a..b", wantErr: "empty label"},
		{in: ".a.b", wantErr: "empty label"},
		{in: "a.b..", wantErr: "empty label"},
		{in: long63 + "a.example", wantErr: "at most 63"},
		{in: strings.Repeat("abcdefghi.", 26), wantErr: "at most 253"},
		{in: "http://development-agent.default.svc.cluster.local:80", wantErr: `pass only the host name, e.g. "development-agent.default.svc.cluster.local"`},
		{in: "development-agent:80", wantErr: "without a port"},
		{in: "10.132.0.6", wantErr: "IP address"},
		{in: "fd00::1", wantErr: "IP address"},
		{in: "bad name.example", wantErr: "contains ' '"},
		{in: "*.example", wantErr: "contains '*'"},
		{in: "bücher.example", wantErr: "xn--"},
		{in: "-lead.example", wantErr: "'-'"},
		{in: "trail-.example", wantErr: "'-'"},
		{in: "bad\xffutf8", wantErr: "UTF-8"},
	}
	for _, c := range cases {
		got, err := probe.NormalizeName(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("NormalizeName(%q) = %q, %v; want error containing %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// 253 characters exactly is allowed.
	name := strings.Repeat("a", 61) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63)
	if len(name) != 253 {
		t.Fatalf("test name is %d long", len(name))
	}
	if _, err := probe.NormalizeName(name); err != nil {
		t.Errorf("253-character name rejected: %v", err)
	}
	if _, err := probe.NormalizeName(name + "e"); err == nil {
		t.Error("254-character name accepted")
	}
}
