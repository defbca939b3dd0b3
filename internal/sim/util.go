package sim

import (
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"net/netip"

	"k8s.io/apimachinery/pkg/runtime"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
)

func scheme() *runtime.Scheme { return clientscheme.Scheme }

// newUID returns a random RFC 4122 version 4 UUID, as the API server gives objects.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// suffixAlphabet is the alphabet of Kubernetes' generated name suffixes (no vowels, no look-alikes).
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = suffixAlphabet[int(b[i])%len(suffixAlphabet)]
	}
	return string(b)
}

// stableSuffix is a deterministic name suffix derived from s.
func stableSuffix(s string, n int) string {
	h := hashString(s)
	b := make([]byte, n)
	for i := range b {
		b[i] = suffixAlphabet[h%uint64(len(suffixAlphabet))]
		h /= uint64(len(suffixAlphabet))
	}
	return string(b)
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// allocate picks a free address of pfx for key: a stable offset derived from the key, then the next
// free one, skipping the network address and the addresses in taken.
func allocate(pfx netip.Prefix, key string, taken map[string]bool) (string, bool) {
	pfx = pfx.Masked()
	bits := 32 - pfx.Bits()
	if bits < 2 || bits > 24 {
		return "", false
	}
	size := uint64(1) << bits
	base := pfx.Addr().As4()
	start := hashString(key) % size
	for i := uint64(0); i < size; i++ {
		off := (start + i) % size
		if off == 0 || off == size-1 {
			continue
		}
		a := base
		v := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		v += off
		ip := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
		if !taken[ip] {
			return ip, true
		}
	}
	return "", false
}
