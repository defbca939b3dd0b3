package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Handshake is what came back for one WebSocket upgrade request: the raw facts, with no Kubernetes
// library interpreting them. Response bodies are not kept (a plain GET returns objects, which may hold
// anything): only their kind and, for a Kubernetes Status, its message.
type Handshake struct {
	URL         string // scheme://host/path?query of the request (no credentials)
	Code        int    // HTTP status; 0 when no response came
	Status      string // "101 Switching Protocols"
	Proto       string // HTTP/1.1, HTTP/2.0
	Subprotocol string // Sec-WebSocket-Protocol chosen by the server
	AcceptOK    bool   // Sec-WebSocket-Accept matches the key sent
	Server      string
	Via         string
	Location    string
	ContentType string
	BodyKind    string // "html", "status", "json", "text", "" (none read)
	// ObjectKind is the "kind" a JSON body opens with (kube-apiserver writes it first: "Pod",
	// "PodList", "Status"), "" when it opens with something else.
	ObjectKind string
	// BodyErr says the body ended before it was whole (a connection cut), when it did.
	BodyErr error
	Message string // a Kubernetes Status message, or the <title> of an HTML page
	Err     error
}

// Upgraded reports a 101 with a valid Sec-WebSocket-Accept.
func (h Handshake) Upgraded() bool { return h.Code == http.StatusSwitchingProtocols && h.AcceptOK }

// Intermediary reports signs that something other than kube-apiserver answered: an HTML page, a Via
// header, a redirect, or a proxy's Server header.
func (h Handshake) Intermediary() (bool, string) {
	var why []string
	if h.BodyKind == "html" {
		w := "an HTML page"
		if h.Message != "" {
			w += fmt.Sprintf(" (%q)", h.Message)
		}
		why = append(why, w)
	}
	if h.Via != "" {
		why = append(why, "Via: "+h.Via)
	}
	if h.Code >= 300 && h.Code < 400 && h.Location != "" {
		why = append(why, "a redirect to "+h.Location)
	}
	s := strings.ToLower(h.Server)
	for _, p := range []string{"nginx", "envoy", "squid", "apache", "haproxy", "google frontend", "gfe", "oauth2-proxy", "cloudflare", "traefik", "istio"} {
		if strings.Contains(s, p) {
			why = append(why, "Server: "+h.Server)
			break
		}
	}
	return len(why) > 0, strings.Join(why, ", ")
}

// Describe is one line for evidence.
func (h Handshake) Describe() string {
	if h.Err != nil {
		return "no answer: " + h.Err.Error()
	}
	var b []string
	b = append(b, h.Proto+" "+h.Status)
	if h.Subprotocol != "" {
		b = append(b, "subprotocol "+h.Subprotocol)
	}
	if h.Code == http.StatusSwitchingProtocols && !h.AcceptOK {
		b = append(b, "Sec-WebSocket-Accept missing or wrong")
	}
	if h.Server != "" {
		b = append(b, "Server: "+h.Server)
	}
	if h.Via != "" {
		b = append(b, "Via: "+h.Via)
	}
	if h.Location != "" {
		b = append(b, "Location: "+h.Location)
	}
	if h.BodyKind != "" {
		k := h.BodyKind + " body"
		if h.Message != "" {
			k += fmt.Sprintf(": %q", h.Message)
		}
		b = append(b, k)
	}
	return strings.Join(b, ", ")
}

// HandshakeRequest is one upgrade attempt.
type HandshakeRequest struct {
	// Base is the API server URL (the kubeconfig's server, possibly with a path prefix).
	Base string
	// Path and Query are the resource path (/api/v1/…) and its query.
	Path  string
	Query url.Values
	// Protocols are offered in Sec-WebSocket-Protocol (comma-separated, in order).
	Protocols []string
	// Origin, when set, is sent as the Origin header (kube-apiserver's WebSocket watch requires one).
	Origin string
	// Timeout bounds the whole exchange (default 10 s).
	Timeout time.Duration
}

// WebSocketHandshake sends one raw HTTP/1.1 WebSocket handshake through rt (the kubeconfig's
// transport: proxy, CA, client certificate, bearer token or exec plugin, and any guard) and reports
// what came back. A 101 connection is closed at once; nothing is sent over it.
func WebSocketHandshake(ctx context.Context, rt http.RoundTripper, r HandshakeRequest) Handshake {
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	base := strings.TrimRight(r.Base, "/")
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	u := base + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	h := Handshake{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		h.Err = err
		return h
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	if len(r.Protocols) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(r.Protocols, ", "))
	}
	if r.Origin != "" {
		req.Header.Set("Origin", r.Origin)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		h.Err = err
		return h
	}
	defer resp.Body.Close()
	h.Code, h.Status, h.Proto = resp.StatusCode, resp.Status, resp.Proto
	h.Subprotocol = resp.Header.Get("Sec-WebSocket-Protocol")
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	h.AcceptOK = resp.Header.Get("Sec-WebSocket-Accept") == base64.StdEncoding.EncodeToString(sum[:])
	h.Server, h.Via, h.Location = resp.Header.Get("Server"), resp.Header.Get("Via"), resp.Header.Get("Location")
	h.ContentType = resp.Header.Get("Content-Type")
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return h
	}
	h.BodyKind, h.Message, h.ObjectKind, h.BodyErr = sniffBody(resp)
	return h
}

var openingKindRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\{\s*"kind"\s*:\s*"([^"]*)"`) })

// sniffBody reads at most 4 KiB for at most a second (a plain watch streams forever) and classifies it.
func sniffBody(resp *http.Response) (kind, msg, objectKind string, bodyErr error) {
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		ch <- res{b, err}
	}()
	var b []byte
	select {
	case r := <-ch:
		b, bodyErr = r.b, r.err
	case <-time.After(time.Second):
		resp.Body.Close()
		r := <-ch
		b = r.b // a plain watch streams forever: cut short on purpose, not an error
	}
	if m := openingKindRE().FindSubmatch(bytes.TrimSpace(b)); m != nil {
		objectKind = string(m[1])
	}
	kind, msg = classifyBody(resp, b)
	return kind, msg, objectKind, bodyErr
}

func classifyBody(resp *http.Response, b []byte) (kind, msg string) {
	t := strings.TrimSpace(string(b))
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	switch {
	case t == "":
		return "", ""
	case strings.Contains(ct, "html") || strings.HasPrefix(strings.ToLower(t), "<!doctype html") || strings.HasPrefix(strings.ToLower(t), "<html"):
		lt := strings.ToLower(t)
		if i := strings.Index(lt, "<title>"); i >= 0 {
			if j := strings.Index(lt[i:], "</title>"); j > 0 {
				return "html", strings.TrimSpace(t[i+7 : i+j])
			}
		}
		return "html", ""
	case strings.HasPrefix(t, "{"):
		var st struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
			return "status", st.Message
		}
		return "json", ""
	}
	return "text", ""
}
