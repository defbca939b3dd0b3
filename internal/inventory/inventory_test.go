package inventory

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

func TestSharedObjectFetchedOnceUnderConcurrency(t *testing.T) {
	var hits int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&hits, 1)
		time.Sleep(30 * time.Millisecond) // long enough for every caller to pile up
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":[{"name":"allow-connector","priority":1000}]}`))
	}))
	defer srv.Close()
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: srv.URL, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	inv := New(Scope{Project: "p"}, nil, nil, g, nil)
	var wg sync.WaitGroup
	for i := 0; i < 25; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw, err := inv.Firewalls(context.Background(), "p")
			if err != nil || len(fw) != 1 || fw[0].Name != "allow-connector" {
				t.Errorf("got %v %v", fw, err)
			}
		}()
	}
	wg.Wait()
	if hits != 1 || inv.Fetches(KeyFirewalls+"p") != 1 {
		t.Fatalf("fetched %d times over HTTP (%d by the inventory), want once", hits, inv.Fetches(KeyFirewalls+"p"))
	}
	inv.Invalidate(KeyFirewalls)
	if _, err := inv.Firewalls(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if hits != 2 {
		t.Fatalf("Invalidate did not force a new fetch (hits %d)", hits)
	}
}

func TestKubeFactsFetchedOnceAndErrorsClassified(t *testing.T) {
	cs := fake.NewSimpleClientset(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: "default"}})
	var gets int32
	cs.PrependReactor("get", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		atomic.AddInt32(&gets, 1)
		return false, nil, nil
	})
	inv := New(Scope{}, cs, nil, nil, nil)
	for i := 0; i < 3; i++ {
		if _, err := inv.Service(context.Background(), "default", "development-agent"); err != nil {
			t.Fatal(err)
		}
	}
	if gets != 1 {
		t.Fatalf("service fetched %d times", gets)
	}
	_, err := inv.Service(context.Background(), "default", "absent")
	if apierr.KindOf(err) != apierr.NotFound {
		t.Fatalf("absent service: %v", err)
	}
}

func TestAbsentClientsAreNotConfigured(t *testing.T) {
	inv := New(Scope{}, nil, nil, nil, nil)
	if err := inv.ServicePages(context.Background(), nil, func([]corev1.Service) {}); apierr.KindOf(err) != apierr.NotConfigured {
		t.Fatalf("no kube client: %v", err)
	}
	if _, err := inv.Cluster(context.Background()); apierr.KindOf(err) != apierr.NotConfigured {
		t.Fatalf("no cluster named: %v", err)
	}
	inv = New(Scope{Project: "p", Location: "l", Cluster: "c"}, nil, nil, nil, nil)
	_, err := inv.Cluster(context.Background())
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.NotConfigured || e.Remedy == "" {
		t.Fatalf("no Google client: %v", err)
	}
}

func TestCancelledFetchIsNotCached(t *testing.T) {
	inv := New(Scope{}, nil, nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Memo(ctx, inv, "k", func(ctx context.Context) (int, error) { return 0, ctx.Err() })
	if err == nil {
		t.Fatal("want the cancellation error")
	}
	v, err := Memo(context.Background(), inv, "k", func(ctx context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("a cancelled fetch was cached: %v %v", v, err)
	}
}
