package ipfilter

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// rangeFrom is the range "a-b" of 2 to 301 addresses starting at a (just a,
// where that runs past the end of the address space).
func rangeFrom(rng *rand.Rand, a netip.Addr) string {
	b := a
	for range 1 + rng.IntN(300) {
		b = b.Next()
	}
	if !b.IsValid() {
		b = a
	}
	return a.String() + "-" + b.String()
}

// genEntries deterministically generates a mixed list: IPv4 single
// addresses, ranges and CIDRs (about 70%) and IPv6 ones (about 30%).
func genEntries(rng *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for range n {
		switch k := rng.IntN(10); {
		case k < 3:
			out = append(out, rand4(rng).String())
		case k < 5:
			out = append(out, rangeFrom(rng, rand4(rng)))
		case k < 7:
			out = append(out, netip.PrefixFrom(rand4(rng), 20+rng.IntN(13)).Masked().String())
		case k < 8:
			out = append(out, rand6(rng).String())
		case k < 9:
			out = append(out, rangeFrom(rng, rand6(rng)))
		default:
			out = append(out, netip.PrefixFrom(rand6(rng), 48+rng.IntN(81)).Masked().String())
		}
	}
	return out
}

func rand4(rng *rand.Rand) netip.Addr {
	v := rng.Uint32()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func rand6(rng *rand.Rand) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 4 {
		b[4+i] = byte(hi >> (8 * i))
	}
	for i := range 8 {
		b[8+i] = byte(lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

// genLookups returns n addresses: half taken from entries (hits), half random
// (mostly misses), both families.
func genLookups(rng *rand.Rand, entries []string, n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for i := range n {
		switch i % 4 {
		case 0, 1:
			r, err := ParseEntry(entries[rng.IntN(len(entries))])
			if err != nil {
				panic(err)
			}
			out = append(out, r.From)
		case 2:
			out = append(out, rand4(rng))
		default:
			out = append(out, rand6(rng))
		}
	}
	return out
}

// benchSink keeps the compiler from dropping the measured call.
var benchSink bool

func BenchmarkAllowed(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		rng := rand.New(rand.NewPCG(42, uint64(n)))
		entries := genEntries(rng, n)
		f, err := NewFilter(nil, entries)
		if err != nil {
			b.Fatal(err)
		}
		addrs := genLookups(rng, entries, 4096)
		allowed := 0
		for _, a := range addrs {
			if f.Allowed(a) {
				allowed++
			}
		}
		if allowed == 0 || allowed == len(addrs) {
			b.Fatalf("degenerate lookups: %d of %d allowed", allowed, len(addrs))
		}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				benchSink = f.Allowed(addrs[i&4095])
				i++
			}
			_, d := f.Len()
			b.ReportMetric(float64(d), "deny_intervals")
		})
	}
}

// BenchmarkNewFilter measures building (parse + sort + merge), which
// happens at provision time and on every file reload.
func BenchmarkNewFilter(b *testing.B) {
	rng := rand.New(rand.NewPCG(42, 100000))
	entries := genEntries(rng, 100000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewFilter(nil, entries); err != nil {
			b.Fatal(err)
		}
	}
}
