// Package probe holds gkedoctor's live probes: a raw DNS query to one named
// resolver (UDP with EDNS0, TCP when truncated), a TCP connect, and the
// helpers around them (name validation, choosing the resolver, a dialer that
// refuses anything but loopback).
//
// Every probe returns a result value, never a panic, with an outcome a check
// can branch on, the symptom a client application would have printed (the
// glibc getaddrinfo line users paste into tickets), and the equivalent
// command a person can run themselves (dig, nc). Every network call has a
// deadline: the caller's context, or a short default when it has none.
//
// Probes send traffic only where they are pointed: the resolver address and
// the dial address given. Tests and the demo wrap their dialers in
// LoopbackOnlyDialer so that nothing can leave 127.0.0.0/8 or ::1.
package probe
