package module

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// iplBenchCIDRs deterministically generates n distinct-ish CIDRs (IPv4 /8 to
// /32 and IPv6 /32 to /128, about 3:1), the only form client_ip accepts.
func iplBenchCIDRs(rng *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for range n {
		if rng.IntN(4) < 3 {
			v := rng.Uint32()
			a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			out = append(out, netip.PrefixFrom(a, 16+rng.IntN(17)).Masked().String())
			continue
		}
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		x := rng.Uint64()
		for i := range 8 {
			b[4+i] = byte(x >> (8 * i))
		}
		out = append(out, netip.PrefixFrom(netip.AddrFrom16(b), 48+rng.IntN(81)).Masked().String())
	}
	return out
}

// iplBenchRequests builds requests carrying the client_ip var: half inside
// one of the CIDRs, half random (mostly outside), both families.
func iplBenchRequests(rng *rand.Rand, cidrs []string, n int) []*http.Request {
	reqs := make([]*http.Request, n)
	for i := range reqs {
		var a netip.Addr
		switch i % 4 {
		case 0, 1:
			a = netip.MustParsePrefix(cidrs[rng.IntN(len(cidrs))]).Addr()
		case 2:
			v := rng.Uint32()
			a = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		default:
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			x := rng.Uint64()
			for j := range 8 {
				b[4+j] = byte(x >> (8 * j))
			}
			a = netip.AddrFrom16(b)
		}
		reqs[i] = iplRequest(a.String(), "127.0.0.1:1")
	}
	return reqs
}

// BenchmarkIPListVsClientIP compares, on the same CIDR lists, the hot path of
// ip_list (a binary search over merged intervals) with Caddy's client_ip
// matcher (a linear scan over prefixes). Both read the client_ip var and
// parse it, so the difference is the lookup itself. The ratio
// client_ip/ip_list is reported as the "x_faster" metric of the ip_list
// sub-benchmark, measured in the same run.
func BenchmarkIPListVsClientIP(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		rng := rand.New(rand.NewPCG(9, uint64(n)))
		cidrs := iplBenchCIDRs(rng, n)
		reqs := iplBenchRequests(rng, cidrs, 1024)

		ours := &MatchIPList{Allow: cidrs}
		if err := ours.Provision(iplTestContext(b)); err != nil {
			b.Fatal(err)
		}
		theirs := &caddyhttp.MatchClientIP{Ranges: cidrs}
		if err := theirs.Provision(iplTestContext(b)); err != nil {
			b.Fatal(err)
		}
		// Both matchers must agree before their speed is compared.
		for _, r := range reqs {
			o, err1 := ours.MatchWithError(r)
			t, err2 := theirs.MatchWithError(r)
			if err1 != nil || err2 != nil || o != t {
				b.Fatalf("n=%d: ip_list=%v (%v) client_ip=%v (%v) for %v", n, o, err1, t, err2, caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey))
			}
		}

		var theirNs float64
		b.Run(fmt.Sprintf("cidrs=%d/client_ip", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			start := time.Now()
			for b.Loop() {
				_, _ = theirs.MatchWithError(reqs[i&1023])
				i++
			}
			theirNs = float64(time.Since(start).Nanoseconds()) / float64(i)
		})
		b.Run(fmt.Sprintf("cidrs=%d/ip_list", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			start := time.Now()
			for b.Loop() {
				_, _ = ours.MatchWithError(reqs[i&1023])
				i++
			}
			ourNs := float64(time.Since(start).Nanoseconds()) / float64(i)
			if theirNs > 0 && ourNs > 0 {
				b.ReportMetric(theirNs/ourNs, "x_faster")
			}
		})
	}
}
