package ipfilter

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{
		"192.0.2.55", "192.0.2.55-192.0.2.61", "192.0.2.0/24", "2001:db8::1",
		"2001:db8::1-2001:db8::ff", "2001:db8:1234::/48", "10.0.0.1/8", "::ffff:10.0.0.1",
		"::ffff:10.0.0.0/104", "10.0.0.300", "10.0.0.9-10.0.0.1", "10.0.0.0/33", "fe80::1%eth0",
		"10.0.0.1-2001:db8::1", "", " ", "::/0", "0.0.0.0/0", "1-2-3", "/", "-", "%", "::ffff:1.2.3.4/95",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseEntry(s)
		if err != nil {
			if _, ok := err.(*EntryError); !ok {
				t.Fatalf("error %T is not *EntryError", err)
			}
			return
		}
		if !r.From.IsValid() || !r.To.IsValid() {
			t.Fatalf("%q: invalid bounds %v", s, r)
		}
		if r.From.Is4() != r.To.Is4() {
			t.Fatalf("%q: mixed families %v", s, r)
		}
		if r.From.Compare(r.To) > 0 {
			t.Fatalf("%q: From > To: %v", s, r)
		}
		if (r.From.Is4In6() && r.To.Is4In6()) || r.From.Zone() != "" || r.To.Zone() != "" {
			t.Fatalf("%q: not normalised: %v", s, r)
		}
		for _, bound := range []netip.Addr{r.From, r.To} {
			// a mapped bound of a partly mapped IPv6 range is checked as IPv4
			if !bound.Is4In6() && !r.Contains(bound) {
				t.Fatalf("%q: %v does not contain its bound %v", s, r, bound)
			}
		}
		back, err := ParseEntry(r.String())
		if err != nil || back != r {
			t.Fatalf("%q: round trip of %v = %v, %v", s, r, back, err)
		}
	})
}

// byteReader hands out fuzz bytes, then zeros.
type byteReader []byte

func (b *byteReader) next() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

// bases are small address neighbourhoods so that fuzzed entries overlap,
// touch and nest often, including at the ends of each family's space.
var (
	bases4 = [4][4]byte{{10, 0, 0, 0}, {0, 0, 0, 0}, {255, 255, 255, 0}, {10, 0, 1, 0}}
	bases6 = [4]netip.Addr{
		netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("::"),
		netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00"), netip.MustParseAddr("::ffff:0:0"), // the IPv4-mapped space
	}
)

func fuzzAddr(v6 bool, base, low byte) netip.Addr {
	if !v6 {
		b := bases4[base%4]
		b[3] = low
		return netip.AddrFrom4(b)
	}
	b := bases6[base%4].As16()
	b[15] = low
	return netip.AddrFrom16(b)
}

// fuzzLists decodes fuzz bytes into allow/deny entries (as text, so that the
// parser is exercised too) and a list of addresses to check.
func fuzzLists(data []byte) (allow, deny []string, addrs []netip.Addr) {
	r := byteReader(data)
	n := int(r.next() % 64)
	for range n {
		k := r.next()
		v6, isDeny, base := k&1 != 0, k&2 != 0, (k>>5)&3
		a, b := fuzzAddr(v6, base, r.next()), fuzzAddr(v6, base, r.next())
		var s string
		switch (k >> 2) % 3 {
		case 0:
			s = a.String()
		case 1:
			if b.Less(a) {
				a, b = b, a
			}
			s = a.String() + "-" + b.String()
		default:
			bits := int(r.next())
			switch {
			case k&0x80 != 0: // long prefixes inside the neighbourhood
				bits = 24 + bits%9
				if v6 {
					bits += 96
				}
			case v6:
				bits %= 129 // short IPv6 prefixes may partly cover the mapped space
			default:
				bits %= 33
			}
			s = netip.PrefixFrom(a, bits).String() // host bits may be set: ParseEntry masks them
		}
		if k&0x10 != 0 && !v6 && r.next()&1 == 0 {
			s = "::ffff:" + s // mapped form of an IPv4 entry (prefix length then +96 below)
			if p, err := netip.ParsePrefix(s[7:]); err == nil {
				s = "::ffff:" + p.Addr().String() + "/" + itoa(p.Bits()+96)
			}
		}
		if _, err := ParseEntry(s); err != nil {
			continue // e.g. a mapped prefix shorter than /96; errors are tested elsewhere
		}
		if isDeny {
			deny = append(deny, s)
		} else {
			allow = append(allow, s)
		}
	}
	for len(r) > 0 {
		k, low := r.next(), r.next()
		a := fuzzAddr(k&1 != 0, (k>>1)&3, low)
		if k&8 != 0 && a.Is4() {
			a = netip.AddrFrom16(a.As16()) // look up the mapped form
		}
		addrs = append(addrs, a)
	}
	return allow, deny, addrs
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// checkAgainstLinear builds a Filter and compares Allowed (and Explain) with
// the linear reference on the given addresses plus every entry bound ±1.
func checkAgainstLinear(t *testing.T, allow, deny []string, addrs []netip.Addr) {
	t.Helper()
	f, err := NewFilter(allow, deny)
	if err != nil {
		t.Fatalf("NewFilter(%q, %q): %v", allow, deny, err)
	}
	parse := func(list []string) []Range {
		out := make([]Range, len(list))
		for i, s := range list {
			out[i], err = ParseEntry(s)
			if err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	ar, dr := parse(allow), parse(deny)
	for _, rs := range [][]Range{ar, dr} {
		for _, r := range rs {
			addrs = append(addrs, r.From, r.To, r.From.Prev(), r.To.Next())
		}
	}
	addrs = append(addrs, netip.Addr{})
	for _, a := range addrs {
		want := linearAllowed(ar, dr, len(allow) > 0, a)
		if got := f.Allowed(a); got != want {
			t.Fatalf("allow=%q deny=%q: Allowed(%v) = %v, linear reference says %v", allow, deny, a, got, want)
		}
		if got, rule := f.Explain(a); got != want {
			t.Fatalf("allow=%q deny=%q: Explain(%v) = %v (%s), want %v", allow, deny, a, got, rule, want)
		}
	}
}

func FuzzFilterAgreesWithLinear(f *testing.F) {
	f.Add([]byte{3, 0x04, 1, 9, 0x06, 5, 5, 0x09, 0, 200, 0, 5, 0, 6, 1, 3})
	f.Add([]byte{4, 0x88, 3, 2, 0x8b, 7, 4, 0x15, 1, 0, 9, 0x44, 0, 255, 0, 255, 1, 0, 8, 10})
	f.Add([]byte{2, 0x08, 0, 0, 0x0a, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0]&0x80 != 0 {
			defer func(old int) { minIndexed = old }(minIndexed)
			minIndexed = 3 // exercise the bucket index on small lists
		}
		allow, deny, addrs := fuzzLists(data)
		checkAgainstLinear(t, allow, deny, addrs)
	})
}

// TestFilterAgreesWithLinear is the deterministic version of the fuzz
// target: a few thousand random lists from a fixed seed.
func TestFilterAgreesWithLinear(t *testing.T) {
	for _, mi := range []int{minIndexed, 3} {
		t.Run("minIndexed="+itoa(mi), func(t *testing.T) {
			defer func(old int) { minIndexed = old }(minIndexed)
			minIndexed = mi
			agreesWithLinear(t)
		})
	}
}

func agreesWithLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		data := make([]byte, 16+rng.IntN(400))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		allow, deny, addrs := fuzzLists(data)
		checkAgainstLinear(t, allow, deny, addrs)
	}
}

// TestGeneratedListAgreesWithLinear checks a larger, realistic list (the
// benchmark generator) against the reference.
func TestGeneratedListAgreesWithLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	entries := genEntries(rng, 2000)
	addrs := genLookups(rng, entries, 3000)
	checkAgainstLinear(t, entries[:700], entries[700:], addrs)
	checkAgainstLinear(t, nil, entries, addrs)
}
