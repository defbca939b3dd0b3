package setup

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fake starts the fake Google API server with three projects (one the caller may not see), clusters
// in two locations and Cloud Run services, and returns the real clients pointed at it.
func fake(t *testing.T) (*fakegcp.Server, *gcp.Clients, string) {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	ca := testCA(t)
	s.AddCluster("dev-orchestra", "europe-west1", &container.Cluster{Name: "dev-orchestra-cluster", Endpoint: "127.0.0.1:6443",
		MasterAuth: &container.MasterAuth{ClusterCaCertificate: ca}})
	s.AddCluster("dev-orchestra", "us-central1-a", &container.Cluster{Name: "zonal", Endpoint: "127.0.0.2",
		MasterAuth: &container.MasterAuth{ClusterCaCertificate: ca}})
	s.AddCluster("partner-data", "europe-west4", &container.Cluster{Name: "partner", Endpoint: "127.0.0.3",
		MasterAuth: &container.MasterAuth{ClusterCaCertificate: ca}})
	s.AddCluster("secret-proj", "europe-west1", &container.Cluster{Name: "hidden", Endpoint: "127.0.0.4"})
	s.DenyPermissions("secret-proj", "resourcemanager.projects.get")
	s.AddRunService("dev-orchestra", "europe-west1", &run.GoogleCloudRunV2Service{Name: "gke-connectivity-tester4",
		Template: &run.GoogleCloudRunV2RevisionTemplate{VpcAccess: &run.GoogleCloudRunV2VpcAccess{
			Connector: "projects/dev-orchestra/locations/europe-west1/connectors/my-vpc-connector", Egress: "ALL_TRAFFIC"}}})
	s.AddRunService("dev-orchestra", "europe-west1", &run.GoogleCloudRunV2Service{Name: "frontend"})
	s.AddRunService("dev-orchestra", "us-central1", &run.GoogleCloudRunV2Service{Name: "elsewhere"})
	s.SetPageSize(1) // every list is paginated
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: s.URL, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, ca
}

func TestListThroughTheRealClients(t *testing.T) {
	s, c, ca := fake(t)
	ctx := context.Background()

	projects, err := ListProjects(ctx, c.CRM)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range projects {
		ids = append(ids, p.ID)
	}
	if got := strings.Join(ids, ","); got != "dev-orchestra,partner-data" {
		t.Errorf("projects = %s, want dev-orchestra,partner-data (every page; not the one the caller cannot see)", got)
	}

	clusters, missing, err := ListClusters(ctx, c.Container, "dev-orchestra")
	if err != nil || len(missing) != 0 {
		t.Fatal(err, missing)
	}
	if len(clusters) != 2 || clusters[0].Name != "dev-orchestra-cluster" || clusters[0].Location != "europe-west1" ||
		clusters[1].Location != "us-central1-a" || clusters[0].CA != ca || clusters[0].Endpoint != "127.0.0.1:6443" {
		t.Errorf("clusters = %+v", clusters)
	}
	if got := clusters[1].ContextName(); got != "gke_dev-orchestra_us-central1-a_zonal" {
		t.Errorf("context name %s", got)
	}

	svcs, err := ListRunServices(ctx, c.Run, "dev-orchestra", RegionOf("europe-west1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 2 || svcs[0].Short != "frontend" || svcs[0].VPC != "" ||
		svcs[1].Name != "projects/dev-orchestra/locations/europe-west1/services/gke-connectivity-tester4" || svcs[1].VPC != "connector my-vpc-connector" {
		t.Errorf("services = %+v", svcs)
	}

	// A 403 from the API is a classified error naming the permission.
	s.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/clusters", Status: 403, Permission: "container.clusters.list"})
	_, _, err = ListClusters(ctx, c.Container, "partner-data")
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.Permission || !strings.Contains(err.Error(), "container.clusters.list") {
		t.Errorf("403 → %v", err)
	}
}

func TestRegionOf(t *testing.T) {
	for in, want := range map[string]string{"europe-west1": "europe-west1", "us-central1-a": "us-central1", "asia-northeast1-c": "asia-northeast1", "": ""} {
		if got := RegionOf(in); got != want {
			t.Errorf("RegionOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEntryIsGcloudsAndLoadsBack(t *testing.T) {
	ca := testCA(t)
	c := Cluster{Project: "dev-orchestra", Location: "europe-west1", Name: "dev-orchestra-cluster", Endpoint: "127.0.0.1:6443", CA: ca}
	cfg, err := Entry(c)
	if err != nil {
		t.Fatal(err)
	}
	y, err := EntryYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: gke_dev-orchestra_europe-west1_dev-orchestra-cluster", "server: https://127.0.0.1:6443",
		"command: gke-gcloud-auth-plugin", "provideClusterInfo: true", "current-context: gke_dev-orchestra_europe-west1_dev-orchestra-cluster"} {
		if !strings.Contains(y, want) {
			t.Errorf("entry YAML lacks %q:\n%s", want, y)
		}
	}
	// clientcmd turns it into the rest.Config the session uses.
	loaded, err := clientcmd.Load([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*loaded, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	pemCA, _ := base64.StdEncoding.DecodeString(ca)
	if rc.Host != "https://127.0.0.1:6443" || !bytes.Equal(rc.CAData, pemCA) || rc.ExecProvider == nil || rc.ExecProvider.Command != AuthPlugin {
		t.Errorf("rest config: host %s exec %+v", rc.Host, rc.ExecProvider)
	}
	if GcloudCommand(c) != "gcloud container clusters get-credentials dev-orchestra-cluster --location europe-west1 --project dev-orchestra" {
		t.Error(GcloudCommand(c))
	}
	for _, bad := range []Cluster{
		{Project: "p", Location: "l", Name: "c", CA: ca},                        // no endpoint yet
		{Project: "p", Location: "l", Name: "c", Endpoint: "1.2.3.4", CA: "%%"}, // CA not base64
		{Project: "p", Location: "l", Name: "c", Endpoint: "h/evil", CA: ca},
		{Location: "l", Name: "c", Endpoint: "h", CA: ca},
	} {
		if _, err := Entry(bad); err == nil {
			t.Errorf("Entry(%+v) accepted", bad)
		}
	}
}

const existingKubeconfig = `apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: kind-a
  cluster:
    server: https://127.0.0.1:1
- name: kind-b
  cluster:
    server: https://127.0.0.1:2
users:
- name: admin
  user:
    token: not-a-real-token
contexts:
- name: a
  context:
    cluster: kind-a
    user: admin
    namespace: team-a
- name: b
  context:
    cluster: kind-b
    user: admin
current-context: a
extensions:
- name: my-extension
  extension:
    hello: world
`

func TestMergeKeepsEverythingAndBacksUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(existingKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	entry, err := Entry(Cluster{Project: "p", Location: "europe-west1", Name: "c", Endpoint: "127.0.0.1:6443", CA: testCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(path, entry, time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(m.Backup); string(b) != existingKubeconfig {
		t.Errorf("backup %s does not hold the file as it was:\n%s", m.Backup, b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	got, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "gke_p_europe-west1_c" {
		t.Errorf("current context %s", got.CurrentContext)
	}
	for _, n := range []string{"a", "b", "gke_p_europe-west1_c"} {
		if got.Contexts[n] == nil {
			t.Errorf("context %s lost", n)
		}
	}
	if got.Contexts["a"].Namespace != "team-a" || got.AuthInfos["admin"].Token != "not-a-real-token" || !got.Preferences.Colors ||
		got.Clusters["kind-b"].Server != "https://127.0.0.1:2" {
		t.Errorf("existing entries changed: %+v", got)
	}
	if ext, ok := got.Extensions["my-extension"].(*runtime.Unknown); !ok || !strings.Contains(string(ext.Raw), "world") {
		t.Errorf("extension lost: %#v", got.Extensions)
	}
	// The same again replaces the entry of the same name (as gcloud does) and says so.
	m2, err := Merge(path, entry, time.Date(2026, 11, 29, 8, 0, 1, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Replaced) != 3 || m2.Backup == m.Backup {
		t.Errorf("second merge: %+v", m2)
	}

	// ReadKubeconfig reads it back through kubectl's loading rules.
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	k := ReadKubeconfig(clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}))
	if k.Err != nil || len(k.Contexts) != 3 || k.Current != "gke_p_europe-west1_c" || k.WritePath != path || k.Contexts[0].Name != "a" || k.Contexts[0].Server != "https://127.0.0.1:1" {
		t.Errorf("ReadKubeconfig = %+v", k)
	}
}

func TestMergeCreatesAndRefusesBrokenFiles(t *testing.T) {
	entry, err := Entry(Cluster{Project: "p", Location: "l", Name: "c", Endpoint: "127.0.0.1", CA: testCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "new", ".kube", "config")
	m, err := Merge(path, entry, time.Now())
	if err != nil || m.Backup != "" {
		t.Fatal(m, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatal(st, err)
	}
	if got, err := clientcmd.LoadFromFile(path); err != nil || got.CurrentContext != "gke_p_l_c" {
		t.Fatal(got, err)
	}

	broken := filepath.Join(t.TempDir(), "config")
	const text = "apiVersion: v1\nclusters: [this is: not a kubeconfig\n"
	if err := os.WriteFile(broken, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(broken, entry, time.Now()); err == nil || !strings.Contains(err.Error(), "left alone") {
		t.Errorf("broken file: %v", err)
	}
	if b, _ := os.ReadFile(broken); string(b) != text {
		t.Error("a broken kubeconfig was changed")
	}
	if _, err := Merge(broken, &clientcmdapi.Config{}, time.Now()); err == nil {
		t.Error("an empty entry was merged")
	}
}

func TestReadKubeconfigAbsent(t *testing.T) {
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: []string{filepath.Join(t.TempDir(), "absent")}}
	k := ReadKubeconfig(clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}))
	if k.Err != nil || len(k.Contexts) != 0 || len(k.Files) != 0 || !strings.HasSuffix(k.WritePath, "absent") {
		t.Errorf("absent kubeconfig: %+v", k)
	}
}
