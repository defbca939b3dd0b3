package sim

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// execServer plays kube-apiserver's HTTP side where the seed's WebSocket failure lives: the streaming
// subresources (exec, attach, portforward) answer an upgrade with 101 Switching Protocols and the
// negotiated subprotocol, and 400 "Upgrade request required" without one; every plain resource GET
// answers 200, upgrade headers or not — which a WebSocket client reports as "Handshake status 200 OK".
// Bearer tokens are checked as the API server checks them (401 for the stale orchestrai-sa token); a
// request without one is the demo user.
type execServer struct {
	w   *World
	url string
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	hijacked map[net.Conn]bool // connections taken over by a stream, closed by close
	streams  sync.WaitGroup
}

// track counts a hijacked stream until the returned func runs: it closes the connection, forgets it,
// and lets Close stop waiting for it. The stream gets a 5-second deadline.
func (s *execServer) track(conn net.Conn) func() {
	s.streams.Add(1)
	s.mu.Lock()
	s.hijacked[conn] = true
	s.mu.Unlock()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	return func() {
		s.mu.Lock()
		delete(s.hijacked, conn)
		s.mu.Unlock()
		_ = conn.Close()
		s.streams.Done()
	}
}

// wsProtocols are the stream subprotocols kube-apiserver 1.33 accepts over WebSockets, newest first.
var wsProtocols = []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "v3.channel.k8s.io",
	"v2.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"}

func startExecServer(w *World) (*execServer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &execServer{w: w, ln: ln, url: "http://" + ln.Addr().String(), hijacked: map[net.Conn]bool{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *execServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	s.mu.Lock()
	for c := range s.hijacked {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.streams.Wait()
}

func status(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code)})
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (s *execServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Audit-Id", newUID())
	if auth := r.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			status(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
			return
		}
		if _, _, err := s.w.kube.authenticate(strings.TrimSpace(tok), nil); err != nil {
			status(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
			return
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 7 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces" && parts[4] == "pods" &&
		slices.Contains([]string{"exec", "attach", "portforward"}, parts[6]):
		s.stream(w, r, parts[3], parts[5], parts[6])
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		status(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "the demo API endpoint serves reads and streams only")
		return
	}
	if s.watchUpgrade(w, r, parts) {
		return
	}
	obj, code := s.read(parts)
	if code != http.StatusOK {
		status(w, code, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(obj)
}

// read serves the GETs a client makes around exec (and a few discovery paths), always 200 when found.
func (s *execServer) read(parts []string) (any, int) {
	k := s.w.kube
	withKind := func(o runtime.Object, kind string) runtime.Object {
		o.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		return o
	}
	switch {
	case len(parts) == 1 && parts[0] == "version":
		return map[string]string{"major": "1", "minor": "33", "gitVersion": "v" + Version, "platform": "linux/amd64"}, http.StatusOK
	case len(parts) == 1 && slices.Contains([]string{"healthz", "readyz", "livez"}, parts[0]):
		return "ok", http.StatusOK
	case len(parts) == 1 && parts[0] == "api":
		return map[string]any{"kind": "APIVersions", "versions": []string{"v1"}}, http.StatusOK
	case len(parts) == 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces":
		kind := map[string]string{"pods": "Pod", "services": "Service", "configmaps": "ConfigMap", "serviceaccounts": "ServiceAccount", "events": "Event"}[parts[4]]
		if kind == "" {
			return nil, http.StatusNotFound
		}
		gvr := corev1.SchemeGroupVersion.WithResource(parts[4])
		l, err := k.tracker.List(gvr, corev1.SchemeGroupVersion.WithKind(kind), parts[3])
		if err != nil {
			return nil, http.StatusNotFound
		}
		return withKind(l, kind+"List"), http.StatusOK
	case len(parts) == 6 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces":
		kind := map[string]string{"pods": "Pod", "services": "Service", "configmaps": "ConfigMap", "serviceaccounts": "ServiceAccount"}[parts[4]]
		if kind == "" {
			return nil, http.StatusNotFound
		}
		o, err := k.tracker.Get(corev1.SchemeGroupVersion.WithResource(parts[4]), parts[3], parts[5])
		if err != nil {
			return nil, http.StatusNotFound
		}
		return withKind(o, kind), http.StatusOK
	case len(parts) == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "nodes":
		l, err := k.tracker.List(gvrNodes, corev1.SchemeGroupVersion.WithKind("Node"), "")
		if err != nil {
			return nil, http.StatusNotFound
		}
		return withKind(l, "NodeList"), http.StatusOK
	}
	return nil, http.StatusNotFound
}

// stream answers exec, attach and portforward.
func (s *execServer) stream(w http.ResponseWriter, r *http.Request, ns, name, sub string) {
	pod, err := getT[*corev1.Pod](s.w.kube, gvrPods, ns, name)
	if err != nil {
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", name))
		return
	}
	if pod.Status.Phase != corev1.PodRunning && sub != "portforward" {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("pod %s is not running", name))
		return
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || r.Header.Get("Upgrade") == "" {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "Upgrade request required")
		return
	}
	upgrade := r.Header.Get("Upgrade")
	var resp strings.Builder
	resp.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	websocket := strings.EqualFold(upgrade, "websocket")
	chosen := ""
	if websocket {
		key := r.Header.Get("Sec-WebSocket-Key")
		if key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
			status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "websocket: not a valid WebSocket handshake (Sec-WebSocket-Key and Sec-WebSocket-Version 13 required)")
			return
		}
		var offered []string
		for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					offered = append(offered, p)
				}
			}
		}
		for _, p := range offered {
			// base64.binary.k8s.io and the like are for portforward; exec speaks channel protocols.
			if slices.Contains(wsProtocols, p) || (sub == "portforward" && strings.HasSuffix(p, "portforward.k8s.io")) {
				chosen = p
				break
			}
		}
		if len(offered) > 0 && chosen == "" {
			status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("requested protocol(s) are not supported: %v; supported protocols are %v", offered, wsProtocols))
			return
		}
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(&resp, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", base64.StdEncoding.EncodeToString(sum[:]))
		if chosen != "" {
			fmt.Fprintf(&resp, "Sec-WebSocket-Protocol: %s\r\n", chosen)
		}
	} else {
		// SPDY/3.1: the server picks the newest stream protocol the client offers.
		for _, p := range r.Header.Values("X-Stream-Protocol-Version") {
			if chosen == "" && (slices.Contains(wsProtocols, p) || strings.HasSuffix(p, "portforward.k8s.io")) {
				chosen = p
			}
		}
		fmt.Fprintf(&resp, "Connection: Upgrade\r\nUpgrade: %s\r\n", upgrade)
		if chosen != "" {
			fmt.Fprintf(&resp, "X-Stream-Protocol-Version: %s\r\n", chosen)
		}
	}
	resp.WriteString("\r\n")
	hj, ok := w.(http.Hijacker)
	if !ok {
		status(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "cannot hijack the connection")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer s.track(conn)()
	_, _ = buf.WriteString(resp.String())
	if websocket && sub == "exec" && (chosen == "v4.channel.k8s.io" || chosen == "v5.channel.k8s.io") {
		// The command "ran": its status arrives on the error channel (3), then the server closes.
		_, _ = buf.Write(wsFrame(0x2, append([]byte{3}, []byte(`{"metadata":{},"status":"Success"}`)...)))
		_, _ = buf.Write(wsFrame(0x8, binary.BigEndian.AppendUint16(nil, 1000)))
	}
	_ = buf.Flush()
	drain(buf.Reader)
}

// wsFrame is a final, unmasked server-to-client WebSocket frame.
func wsFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// drain reads what the client still sends, until it closes or the deadline passes.
func drain(r *bufio.Reader) {
	buf := make([]byte, 4096)
	for {
		if _, err := r.Read(buf); err != nil {
			return
		}
	}
}
