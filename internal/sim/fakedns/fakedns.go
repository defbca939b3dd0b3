// Package fakedns is a real DNS server on loopback whose answers are
// programmed per name and type. It speaks UDP and TCP on the same port (built
// with github.com/miekg/dns), so probes, third-party resolvers (Unbound
// forwarding to it) and dig all talk real DNS to it. Tests use it to produce
// every RCODE, truncation, delays, dropped queries and garbage replies; the
// demo world uses SetHandler to answer from its simulated Cloud DNS state.
package fakedns

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Answer is what the server does with one query.
type Answer struct {
	// Rcode is the response code (dns.RcodeSuccess, dns.RcodeNameError, ...).
	Rcode int
	// RRs go in the answer section. An RR whose owner name is empty is given
	// the query name.
	RRs []dns.RR
	// Delay is waited before answering (or before dropping). Close cuts it short.
	Delay time.Duration
	// Truncate sets TC over UDP with no answers; over TCP the answer is sent in
	// full. This is what a client must see to retry over TCP.
	Truncate bool
	// Malformed writes bytes that are not a DNS message: the query's ID and a
	// plausible header followed by garbage, so a client that matches replies by
	// ID accepts it and then fails to parse it.
	Malformed bool
	// Drop never answers.
	Drop bool
}

// Query is one query the server received.
type Query struct {
	Name  string // lower-case FQDN
	Type  uint16
	Proto string // "udp" or "tcp"
	Time  time.Time
}

// Handler answers queries that have no answer set with Set. It returns false
// to fall through to Server.Default. It may be called concurrently and may call
// the Server's methods.
type Handler func(q dns.Question, proto string) (Answer, bool)

type key struct {
	name  string
	qtype uint16
}

// Server is a programmable DNS server on 127.0.0.1, UDP and TCP on one port.
type Server struct {
	// Addr is "127.0.0.1:PORT", the same port for UDP and TCP.
	Addr string

	// Default answers names that have neither an entry from Set nor an answer
	// from the handler. Start sets it to NXDOMAIN. Assign it right after Start,
	// before any query and before calling Set or SetHandler (whose lock then
	// orders the write before the server's reads); at any other time use
	// SetDefault, which is safe while queries are in flight.
	Default Answer

	mu       sync.Mutex
	answers  map[key]Answer
	handler  Handler
	queries  []Query
	defSet   bool
	defAns   Answer
	udp, tcp *dns.Server
	done     chan struct{}
	close    sync.Once
}

// Start listens on a free loopback port (UDP and TCP) and serves until Close.
func Start() (*Server, error) {
	s := &Server{
		Default: Answer{Rcode: dns.RcodeNameError},
		answers: make(map[key]Answer),
		done:    make(chan struct{}),
	}
	pc, l, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr().String()

	var started sync.WaitGroup
	started.Add(2)
	notify := func() { started.Done() }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, UDPSize: dns.MaxMsgSize, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: l, Handler: s, NotifyStartedFunc: notify,
		ReadTimeout: 2 * time.Second, IdleTimeout: func() time.Duration { return 2 * time.Second }}

	errc := make(chan error, 2)
	go func() { errc <- s.udp.ActivateAndServe() }()
	go func() { errc <- s.tcp.ActivateAndServe() }()
	ready := make(chan struct{})
	go func() { started.Wait(); close(ready) }()
	select {
	case <-ready:
		return s, nil
	case err := <-errc:
		_ = pc.Close()
		_ = l.Close()
		s.Close()
		return nil, fmt.Errorf("fakedns: serve on %s: %w", s.Addr, err)
	case <-time.After(5 * time.Second):
		_ = pc.Close()
		_ = l.Close()
		s.Close()
		return nil, fmt.Errorf("fakedns: server on %s did not start within 5s", s.Addr)
	}
}

// listenPair binds TCP on a free loopback port, then UDP on the same port.
// Another process may hold the UDP side of a port that is free for TCP, so it
// retries with a fresh port.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("fakedns: listen tcp 127.0.0.1: %w", err)
		}
		pc, err := net.ListenPacket("udp4", l.Addr().String())
		if err == nil {
			return pc, l, nil
		}
		lastErr = err
		_ = l.Close()
	}
	return nil, nil, fmt.Errorf("fakedns: no loopback port free for both UDP and TCP: %w", lastErr)
}

// Close stops both servers; queries being delayed are abandoned. It is safe
// to call more than once.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			if srv != nil {
				_ = srv.ShutdownContext(ctx)
			}
		}
	})
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// Set programs the answer for a name (case-insensitive, with or without the
// trailing dot) and query type. It overrides the handler and the default.
func (s *Server) Set(name string, qtype uint16, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[key{canonical(name), qtype}] = a
}

// Unset removes an answer programmed with Set.
func (s *Server) Unset(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.answers, key{canonical(name), qtype})
}

// SetHandler installs the fallback consulted for names without a Set answer.
// nil removes it.
func (s *Server) SetHandler(h func(q dns.Question, proto string) (Answer, bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// SetDefault replaces Default safely while queries may be in flight.
func (s *Server) SetDefault(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defAns, s.defSet = a, true
}

// Queries returns a copy of every query received so far, in arrival order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// ResetQueries forgets the queries received so far.
func (s *Server) ResetQueries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = nil
}

// lookup records the query and decides the answer: Set entries, then the
// handler, then the default.
func (s *Server) lookup(q dns.Question, proto string) Answer {
	name := canonical(q.Name)
	s.mu.Lock()
	s.queries = append(s.queries, Query{Name: name, Type: q.Qtype, Proto: proto, Time: time.Now()})
	a, ok := s.answers[key{name, q.Qtype}]
	h := s.handler
	def := s.Default
	if s.defSet {
		def = s.defAns
	}
	s.mu.Unlock()
	if ok {
		return a
	}
	if h != nil {
		// Called without the lock so a dynamic world may call Set from it.
		if a, ok := h(dns.Question{Name: name, Qtype: q.Qtype, Qclass: q.Qclass}, proto); ok {
			return a
		}
	}
	return def
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	proto := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcodeFormatError(r)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	a := s.lookup(q, proto)

	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
	}
	if a.Drop {
		return
	}
	if a.Malformed {
		_, _ = w.Write(garbage(r.Id))
		return
	}

	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = r.RecursionDesired
	m.Rcode = a.Rcode
	udpSize := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		if opt.UDPSize() > dns.MinMsgSize {
			udpSize = int(opt.UDPSize())
		}
		m.SetEdns0(opt.UDPSize(), false)
	}
	if a.Truncate && proto == "udp" {
		m.Truncated = true
		_ = w.WriteMsg(m)
		return
	}
	for _, rr := range a.RRs {
		if rr == nil {
			continue
		}
		rr = dns.Copy(rr)
		if rr.Header().Name == "" {
			rr.Header().Name = q.Name
		}
		m.Answer = append(m.Answer, rr)
	}
	if proto == "udp" {
		// Behave like a real server: an answer that does not fit the client's
		// buffer is truncated with TC set.
		m.Truncate(udpSize)
	}
	if err := w.WriteMsg(m); err != nil {
		// A message that cannot be packed (a bad programmed RR) becomes
		// SERVFAIL, which is what a real server does with an internal error.
		fail := new(dns.Msg)
		fail.SetRcode(r, dns.RcodeServerFailure)
		_ = w.WriteMsg(fail)
	}
}

// garbage is a reply with the query's ID and a header claiming answers that
// are not there, followed by bytes that do not parse as records.
func garbage(id uint16) []byte {
	b := []byte{
		byte(id >> 8), byte(id),
		0x81, 0x80, // QR, RD, RA, NOERROR
		0x00, 0x01, // QDCOUNT 1
		0x00, 0x05, // ANCOUNT 5
		0x00, 0x00, 0x00, 0x00,
	}
	return append(b, []byte("\xc0\xff\xee this is not DNS \xde\xad\xbe\xef")...)
}
