package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// backends are the loopback listeners that play the world's applications: an HTTP server per app
// (the pods' label app or k8s-app, and partner-api-1 behind the peering) answering "APP: ok".
type backends struct {
	w      *World
	mu     sync.Mutex
	apps   map[string]*appServer
	closed bool
}

type appServer struct {
	ln  net.Listener
	srv *http.Server
}

func newBackends(w *World) *backends { return &backends{w: w, apps: map[string]*appServer{}} }

func (b *backends) start() error {
	for _, app := range []string{"development-agent", "environment-manager", "partner-api"} {
		if _, err := b.addr(app); err != nil {
			return err
		}
	}
	return nil
}

// addr returns the loopback address of app's listener, starting it on first use.
func (b *backends) addr(app string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", errWorldClosed
	}
	if s, ok := b.apps[app]; ok {
		return s.ln.Addr().String(), nil
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("sim: listen for %s: %w", app, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/agent.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": app, "url": "http://" + r.Host})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Server", app)
		_, _ = fmt.Fprintf(w, "%s: ok\n", app)
	})
	s := &appServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}}
	b.apps[app] = s
	b.w.wg.Add(1)
	go func() {
		defer b.w.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	return ln.Addr().String(), nil
}

func (b *backends) addrs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, s := range b.apps {
		out = append(out, s.ln.Addr().String())
	}
	sort.Strings(out)
	return out
}

func (b *backends) close() {
	b.mu.Lock()
	b.closed = true
	apps := b.apps
	b.apps = map[string]*appServer{}
	b.mu.Unlock()
	for _, s := range apps {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		cancel()
	}
}
