package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// TestHoldModelWorld builds the model benchmark's world (BenchmarkModelAuditVsKubectl) once and keeps
// it up, so the audit can be profiled and measured against it again and again without the minutes of
// set-up each time: GKEDOCTOR_BENCH_HOLD=DIR (and optionally GKEDOCTOR_BENCH_HOLD_SERVICES=N, default
// 20000) writes DIR/env.sh (the environment and the audit's arguments) and waits until DIR/stop exists
// (at most 4 hours). Skipped unless GKEDOCTOR_BENCH_HOLD is set.
//
//	GKEDOCTOR_BENCH_HOLD=/tmp/world go test ./internal/bench -run TestHoldModelWorld -timeout 5h &
//	. /tmp/world/env.sh; gkedoctor audit $AUDIT_ARGS; touch /tmp/world/stop
func TestHoldModelWorld(t *testing.T) {
	dir := os.Getenv("GKEDOCTOR_BENCH_HOLD")
	if dir == "" {
		t.Skip("GKEDOCTOR_BENCH_HOLD is not set (a directory to write the world's env.sh to)")
	}
	n := 20000
	if s := os.Getenv("GKEDOCTOR_BENCH_HOLD_SERVICES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("GKEDOCTOR_BENCH_HOLD_SERVICES=%q is not a positive number", s)
		}
		n = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "stop"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
	defer cancel()
	srv, err := testenv.Start(ctx, testenv.Options{ExtraAPIServerArgs: []string{"--service-cluster-ip-range=" + mServicesCIDR}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	g := fakegcp.New()
	defer g.Close()
	records, err := seedModelGCP(g)
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer resolver.Close()
	for name, ip := range records {
		resolver.Set(name, mdns.TypeA, fakedns.Answer{RRs: []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300},
			A: net.ParseIP(ip)}}})
	}
	cs := srv.Clientset()
	if err := parallel(0, mNamespaces, func(k int) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%03d", k)}}, metav1.CreateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := createModelServices(ctx, cs, 0, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d Services in %s", n, time.Since(start).Round(time.Second))
	args := []string{"audit", "--kubeconfig", srv.KubeconfigPath, "--project", mProject, "--location", mRegion, "--cluster", mCluster,
		"--resolver", resolver.Addr, "-o", "json"}
	env := fmt.Sprintf("export %s=%s\nexport KUBECONFIG=%s\nAUDIT_ARGS=%q\n", gcp.EndpointEnv, g.URL, srv.KubeconfigPath, strings.Join(args, " "))
	if err := os.WriteFile(filepath.Join(dir, "env.sh"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("world up: . %s/env.sh; touch %s/stop to end it", dir, dir)
	for ctx.Err() == nil {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
}
