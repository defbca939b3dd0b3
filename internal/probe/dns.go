package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

const (
	// DefaultDNSTimeout bounds each DNS attempt (UDP, then TCP) when the
	// caller's context has no deadline.
	DefaultDNSTimeout = 2 * time.Second
	// EDNSBufSize is the UDP payload size advertised in EDNS0: the DNS Flag
	// Day 2020 value, which avoids IP fragmentation on every common path.
	EDNSBufSize = 1232
)

// Outcome classifies a DNS probe.
type Outcome int

// The outcomes of a DNS probe. The zero value is "unknown" so that an unset
// result is never mistaken for an answer.
const (
	OutcomeAnswer    Outcome = iota + 1 // NOERROR with a record of the type asked
	OutcomeNoData                       // NOERROR, the name exists, no record of that type
	OutcomeNXDomain                     // NXDOMAIN: the name does not exist (as seen by this resolver)
	OutcomeServFail                     // SERVFAIL: the resolver failed, e.g. an unreachable forwarding target
	OutcomeRefused                      // REFUSED: the resolver will not answer this client or zone
	OutcomeTimeout                      // no reply before the deadline
	OutcomeMalformed                    // a reply arrived but is not a valid answer to the question
	OutcomeError                        // anything else: bad input, network error, unusual RCODE
)

var outcomeNames = map[Outcome]string{
	OutcomeAnswer:    "answer",
	OutcomeNoData:    "nodata",
	OutcomeNXDomain:  "nxdomain",
	OutcomeServFail:  "servfail",
	OutcomeRefused:   "refused",
	OutcomeTimeout:   "timeout",
	OutcomeMalformed: "malformed",
	OutcomeError:     "error",
}

// String returns the outcome's lower-case name ("servfail").
func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return "unknown"
}

// MarshalText makes outcomes render by name in JSON reports.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// DNSAnswer is one record of the answer section.
type DNSAnswer struct {
	Name string // owner name
	Type string // "A", "CNAME", ...
	TTL  uint32
	Data string // the IP for A/AAAA, the target for CNAME/NS/PTR, else the record's data in zone-file form
}

// DNSResult is what one DNS probe saw.
type DNSResult struct {
	Name      string // the FQDN asked
	Type      string // the query type asked ("A")
	Server    string // HOST:PORT queried
	Transport string // "udp", or "tcp" after a truncated UDP reply
	Rcode     int    // the reply's RCODE; -1 when there was no usable reply
	RcodeName string // "NOERROR", "SERVFAIL", ...; empty when there was no usable reply
	Outcome   Outcome
	// Truncated reports that the final reply had TC set (only when the TCP
	// retry itself could not be made, or a TCP reply claimed truncation).
	Truncated bool
	Answers   []DNSAnswer
	Duration  time.Duration
	Err       error
}

// IPs returns the addresses in the A and AAAA answers.
func (r DNSResult) IPs() []netip.Addr {
	var ips []netip.Addr
	for _, a := range r.Answers {
		if a.Type != "A" && a.Type != "AAAA" {
			continue
		}
		if ip, err := netip.ParseAddr(a.Data); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// Symptom is the line a client application using glibc's getaddrinfo (Python,
// curl, most of Cloud Run's runtimes) prints for this outcome: the
// gai_strerror text. It is empty for an answer. EAI gives the code.
func (r DNSResult) Symptom() string {
	_, _, text := r.eai()
	return text
}

// EAI returns the getaddrinfo error a glibc client would get: its name
// ("EAI_NONAME") and value (-2, what Python shows as "[Errno -2]"). It is
// ("", 0) for an answer.
func (r DNSResult) EAI() (name string, code int) {
	name, code, _ = r.eai()
	return name, code
}

// eai maps the probe's outcome onto glibc's behaviour (resolv/res_send.c,
// resolv/res_query.c, nss_dns and sysdeps/posix/getaddrinfo.c). The NXDOMAIN,
// NODATA, SERVFAIL and REFUSED rows are checked against a real glibc client
// by internal/testenv/unbound's TestSymptomMatchesGlibc.
func (r DNSResult) eai() (name string, code int, text string) {
	const (
		again  = "Temporary failure in name resolution"
		noname = "Name or service not known"
		nodata = "No address associated with hostname"
		fail   = "Non-recoverable failure in name resolution"
	)
	switch r.Outcome {
	case OutcomeAnswer:
		return "", 0, ""
	case OutcomeNXDomain:
		// res_query turns NXDOMAIN into HOST_NOT_FOUND; getaddrinfo finds
		// nothing and returns EAI_NONAME.
		return "EAI_NONAME", -2, noname
	case OutcomeNoData:
		// res_query turns NOERROR-without-answers into h_errno NO_DATA, and
		// getaddrinfo reports that as EAI_NODATA ("We made requests but they
		// turned out no data. The name is known, though."). Python shows
		// "[Errno -5] No address associated with hostname". Tools that only
		// distinguish "not found" from "try again" put it with NXDOMAIN.
		return "EAI_NODATA", -5, nodata
	case OutcomeServFail, OutcomeTimeout:
		// SERVFAIL and a timeout both end in h_errno TRY_AGAIN: EAI_AGAIN.
		return "EAI_AGAIN", -3, again
	case OutcomeRefused:
		// glibc's send_dg treats REFUSED like SERVFAIL and NOTIMP: it drops
		// the reply and tries the next nameserver. When every nameserver
		// refuses, res_send fails as if nothing answered, res_query sets
		// TRY_AGAIN, and the client sees EAI_AGAIN, not "not known". A
		// REFUSED resolver is therefore indistinguishable from a SERVFAIL
		// one in the application's logs; only a raw query tells them apart.
		return "EAI_AGAIN", -3, again
	case OutcomeMalformed:
		// glibc discards a reply it cannot match to its question (too short,
		// wrong ID, unparsable question) and keeps waiting, so a server that
		// only sends garbage looks to the application like a timeout.
		return "EAI_AGAIN", -3, again
	case OutcomeError:
		if r.Rcode == dns.RcodeNotImplemented {
			// NOTIMP is handled like REFUSED (see above).
			return "EAI_AGAIN", -3, again
		}
		if r.Rcode > 0 {
			// FORMERR and the rarer RCODEs become h_errno NO_RECOVERY. The
			// exact getaddrinfo text for those varies by glibc path; this is
			// the resolver's own wording for the class.
			return "EAI_FAIL", -4, fail
		}
		// No reply at all (connection refused, network unreachable): glibc
		// moves on to the next server and finally reports TRY_AGAIN.
		return "EAI_AGAIN", -3, again
	}
	return "", 0, ""
}

// Dig returns the dig command that repeats this query.
func (r DNSResult) Dig() string {
	parts := []string{"dig"}
	if r.Server != "" {
		host, port, err := net.SplitHostPort(r.Server)
		if err != nil {
			host, port = r.Server, "53"
		}
		parts = append(parts, shellQuote("@"+host))
		if port != "53" {
			parts = append(parts, "-p", shellQuote(port))
		}
	}
	name := r.Name
	if name == "" {
		name = "."
	}
	parts = append(parts, shellQuote(name))
	if r.Type != "" {
		parts = append(parts, shellQuote(r.Type))
	}
	if r.Transport == "tcp" {
		parts = append(parts, "+tcp")
	}
	return strings.Join(parts, " ")
}

// shellQuote single-quotes s unless it is made only of characters a shell
// leaves alone, so a printed command can be pasted safely.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.ContainsRune("@%+=:,./-_", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DNSClient sends DNS probes. Its zero value dials with net.Dialer and uses
// DefaultDNSTimeout.
type DNSClient struct {
	// Dialer opens the "udp" and "tcp" connections; nil means a net.Dialer.
	// Tests and the demo pass a LoopbackOnlyDialer.
	Dialer Dialer
	// Timeout bounds each attempt when the context has no deadline;
	// zero means DefaultDNSTimeout.
	Timeout time.Duration
}

// DNS queries server (HOST[:PORT], port 53 by default) for name and qtype
// with the zero DNSClient.
func DNS(ctx context.Context, server string, name string, qtype uint16) DNSResult {
	return DNSClient{}.Query(ctx, server, name, qtype)
}

// Query sends one query over UDP with EDNS0 and, if the reply is truncated,
// repeats it over TCP. The context's deadline bounds the whole probe; without
// one each attempt gets c.Timeout.
func (c DNSClient) Query(ctx context.Context, server string, name string, qtype uint16) DNSResult {
	start := time.Now()
	res := DNSResult{Name: name, Type: typeName(qtype), Server: server, Transport: "udp", Rcode: -1}
	finish := func(r DNSResult) DNSResult {
		r.Duration = time.Since(start)
		return r
	}

	addr, err := ParseServerAddr(server)
	if err != nil {
		res.Outcome, res.Err = OutcomeError, err
		return finish(res)
	}
	res.Server = addr
	if name == "" {
		res.Outcome, res.Err = OutcomeError, errors.New("dns probe: empty name")
		return finish(res)
	}
	fqdn := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fqdn); !ok {
		res.Outcome, res.Err = OutcomeError, fmt.Errorf("dns probe: %q is not a valid DNS name", name)
		return finish(res)
	}
	res.Name = fqdn

	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.RecursionDesired = true
	q.SetEdns0(EDNSBufSize, false)

	udp := c.attempt(ctx, "udp", addr, q)
	if !udp.Truncated || udp.Outcome == OutcomeMalformed {
		return finish(udp)
	}
	// A truncated reply carries no usable answer: a real stub resolver
	// repeats the question over TCP, and so do we.
	tcp := c.attempt(ctx, "tcp", addr, q)
	if tcp.Rcode < 0 && tcp.Err != nil {
		tcp.Err = fmt.Errorf("UDP reply was truncated; TCP retry failed: %w", tcp.Err)
	}
	return finish(tcp)
}

// attempt makes one exchange over network and classifies it.
func (c DNSClient) attempt(ctx context.Context, network, addr string, q *dns.Msg) DNSResult {
	wire, err := c.exchange(ctx, network, addr, q)
	if err != nil {
		if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
			// The caller gave up; that says nothing about the server.
			err = cerr
		}
		r := DNSResult{Rcode: -1, Err: fmt.Errorf("dns %s %s: %w", network, addr, err)}
		r.Outcome = classifyNetErr(ctx, err)
		r.fill(q, network, addr)
		return r
	}
	r := ParseAnswer(q, wire)
	r.fill(q, network, addr)
	return r
}

func (r *DNSResult) fill(q *dns.Msg, network, addr string) {
	r.Transport, r.Server = network, addr
	if len(q.Question) > 0 {
		r.Name, r.Type = q.Question[0].Name, typeName(q.Question[0].Qtype)
	}
}

// udpBufs are receive buffers for DNS replies over UDP.
var udpBufs = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

func (c DNSClient) exchange(ctx context.Context, network, addr string, q *dns.Msg) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = DefaultDNSTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	d := c.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Cancellation without a deadline change still has to unblock a read.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if network == "udp" {
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		// A datagram can be as large as a DNS message; the reply is copied out of a pooled buffer of
		// that size (a run sends hundreds of queries).
		bp := udpBufs.Get().(*[]byte)
		defer udpBufs.Put(bp)
		n, err := conn.Read(*bp)
		if err != nil {
			return nil, err
		}
		return bytes.Clone((*bp)[:n]), nil
	}

	framed := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(framed, uint16(len(msg)))
	copy(framed[2:], msg)
	if _, err := conn.Write(framed); err != nil {
		return nil, err
	}
	var lenBuf [2]byte
	if _, err := io.ReadFull(conn, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("server closed the TCP connection without replying")
		}
		return nil, err
	}
	n := binary.BigEndian.Uint16(lenBuf[:])
	buf := make([]byte, n)
	if _, err := io.ReadFull(conn, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("server closed the TCP connection after %d of %d reply bytes", len(buf), n)
		}
		return nil, err
	}
	return buf, nil
}

// classifyNetErr tells a deadline from other failures.
func classifyNetErr(ctx context.Context, err error) Outcome {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return OutcomeError
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return OutcomeTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return OutcomeTimeout
	}
	return OutcomeError
}

// ParseAnswer turns the wire bytes of a reply to query into a DNSResult
// (Name, Type, Rcode, RcodeName, Outcome, Truncated, Answers, Err; the caller
// fills Server, Transport and Duration). It never panics: anything that is
// not a well-formed reply to this query is OutcomeMalformed with the reason in
// Err. query may be nil, in which case the ID and question are not checked.
func ParseAnswer(query *dns.Msg, wire []byte) (res DNSResult) {
	res.Rcode = -1
	var qq *dns.Question
	if query != nil && len(query.Question) > 0 {
		qq = &query.Question[0]
		res.Name, res.Type = qq.Name, typeName(qq.Qtype)
	}
	defer func() {
		// Defence in depth: the unpacker is fuzzed upstream, but a probe
		// must never take the tool down on a hostile reply.
		if p := recover(); p != nil {
			res.Outcome, res.Answers = OutcomeMalformed, nil
			res.Err = fmt.Errorf("reply could not be parsed: %v", p)
		}
	}()
	malformed := func(format string, args ...any) DNSResult {
		res.Outcome = OutcomeMalformed
		res.Err = fmt.Errorf(format, args...)
		return res
	}

	if len(wire) < 12 {
		return malformed("reply is %d bytes, shorter than a DNS header", len(wire))
	}
	id := binary.BigEndian.Uint16(wire)
	flags := binary.BigEndian.Uint16(wire[2:])
	if query != nil && id != query.Id {
		return malformed("reply ID %#04x does not match query ID %#04x", id, query.Id)
	}
	if flags&(1<<15) == 0 {
		return malformed("message is a query, not a reply")
	}

	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		if flags&(1<<9) != 0 {
			// A truncated reply may be cut mid-record; its header is enough
			// to tell the caller to retry over TCP.
			res.Truncated = true
			res.Rcode = int(flags & 0xf)
			res.RcodeName = rcodeName(res.Rcode)
			res.Outcome = outcomeForRcode(res.Rcode, false)
			if res.Outcome == OutcomeError {
				res.Err = fmt.Errorf("server answered %s (truncated)", res.RcodeName)
			}
			return res
		}
		return malformed("reply is not a valid DNS message (%d bytes): %v", len(wire), err)
	}
	if qq != nil && len(m.Question) > 0 {
		got := m.Question[0]
		if !strings.EqualFold(got.Name, qq.Name) || got.Qtype != qq.Qtype {
			return malformed("reply is for %s %s, not for the question asked (%s %s)",
				got.Name, typeName(got.Qtype), qq.Name, typeName(qq.Qtype))
		}
	}

	res.Rcode = m.Rcode
	res.RcodeName = rcodeName(m.Rcode)
	res.Truncated = m.Truncated
	hasType := false
	for _, rr := range m.Answer {
		if rr == nil || rr.Header() == nil {
			continue
		}
		h := rr.Header()
		if qq != nil && (h.Rrtype == qq.Qtype || qq.Qtype == dns.TypeANY) {
			hasType = true
		} else if qq == nil && h.Rrtype != dns.TypeCNAME {
			hasType = true
		}
		res.Answers = append(res.Answers, DNSAnswer{Name: h.Name, Type: typeName(h.Rrtype), TTL: h.Ttl, Data: rrData(rr)})
	}
	res.Outcome = outcomeForRcode(m.Rcode, hasType)
	if res.Outcome == OutcomeError {
		res.Err = fmt.Errorf("server answered %s", res.RcodeName)
	}
	return res
}

func outcomeForRcode(rcode int, hasType bool) Outcome {
	switch rcode {
	case dns.RcodeSuccess:
		if hasType {
			return OutcomeAnswer
		}
		// Also the case of a CNAME whose target has no record of the type.
		return OutcomeNoData
	case dns.RcodeNameError:
		return OutcomeNXDomain
	case dns.RcodeServerFailure:
		return OutcomeServFail
	case dns.RcodeRefused:
		return OutcomeRefused
	}
	return OutcomeError
}

func rrData(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.A:
		if ip, ok := netip.AddrFromSlice(v.A); ok {
			return ip.Unmap().String()
		}
	case *dns.AAAA:
		if ip, ok := netip.AddrFromSlice(v.AAAA); ok {
			return ip.String()
		}
	case *dns.CNAME:
		return v.Target
	case *dns.NS:
		return v.Ns
	case *dns.PTR:
		return v.Ptr
	case *dns.DNAME:
		return v.Target
	}
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}
