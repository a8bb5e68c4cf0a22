package ipfilter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseEntry(t *testing.T) {
	tests := []struct {
		in       string
		from, to string
	}{
		// IPv4
		{"192.0.2.55", "192.0.2.55", "192.0.2.55"},
		{"192.0.2.55-192.0.2.61", "192.0.2.55", "192.0.2.61"},
		{"192.0.2.55 - 192.0.2.61", "192.0.2.55", "192.0.2.61"},
		{"192.0.2.55-192.0.2.55", "192.0.2.55", "192.0.2.55"},
		{"192.0.2.0/24", "192.0.2.0", "192.0.2.255"},
		{"10.0.0.1/8", "10.0.0.0", "10.255.255.255"}, // host bits masked
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"192.0.2.7/32", "192.0.2.7", "192.0.2.7"},
		{"  192.0.2.55\t", "192.0.2.55", "192.0.2.55"},
		// IPv6
		{"2001:db8::1", "2001:db8::1", "2001:db8::1"},
		{"2001:db8::1-2001:db8::ff", "2001:db8::1", "2001:db8::ff"},
		{"2001:db8:1234::/48", "2001:db8:1234::", "2001:db8:1234:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8:1234::1/48", "2001:db8:1234::", "2001:db8:1234:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8::/65", "2001:db8::", "2001:db8::7fff:ffff:ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::5/128", "2001:db8::5", "2001:db8::5"},
		{" 2001:DB8::1 ", "2001:db8::1", "2001:db8::1"},
		// IPv4-mapped IPv6 becomes IPv4
		{"::ffff:10.0.0.1", "10.0.0.1", "10.0.0.1"},
		{"::ffff:10.0.0.1-::ffff:10.0.0.9", "10.0.0.1", "10.0.0.9"},
		{"::ffff:10.0.0.1-10.0.0.9", "10.0.0.1", "10.0.0.9"},
		{"::ffff:10.0.0.0/104", "10.0.0.0", "10.255.255.255"},
		{"::ffff:0.0.0.0/96", "0.0.0.0", "255.255.255.255"},
		{"::ffff:10.1.2.3/128", "10.1.2.3", "10.1.2.3"},
		// IPv6 ranges reaching into the mapped space stay IPv6
		{"::/80", "::", "::ffff:255.255.255.255"},
		{"::1-::ffff:10.0.0.1", "::1", "::ffff:10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseEntry(tt.in)
			if err != nil {
				t.Fatalf("ParseEntry(%q): %v", tt.in, err)
			}
			want := Range{netip.MustParseAddr(tt.from), netip.MustParseAddr(tt.to)}
			if r != want {
				t.Fatalf("ParseEntry(%q) = %v, want %v", tt.in, r, want)
			}
			if (r.From.Is4In6() && r.To.Is4In6()) || (r.From.Is4() && r.To.Is4In6()) || r.From.Zone() != "" {
				t.Fatalf("not normalised: %v", r)
			}
		})
	}
}

func TestParseEntryErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // exact message, or prefix when it ends with "…"
	}{
		{"10.0.0.300", `"10.0.0.300": not an IP address`},
		{"10.0.0.9-10.0.0.1", `"10.0.0.9-10.0.0.1": range start after end`},
		{"2001:db8::9-2001:db8::1", `"2001:db8::9-2001:db8::1": range start after end`},
		{"10.0.0.0/33", `"10.0.0.0/33": prefix length 33 out of range 0-32`},
		{"2001:db8::/129", `"2001:db8::/129": prefix length 129 out of range 0-128`},
		{"10.0.0.0/", `"10.0.0.0/": prefix length…`},
		{"10.0.0.0/x", `"10.0.0.0/x": prefix length…`},
		{"10.0.0.0/-1", `"10.0.0.0/-1": not an IP address…`}, // '-' makes it a range
		{"10.0.0.0/+8", `"10.0.0.0/+8": prefix length…`},
		{"10.0.0.0/0008", `"10.0.0.0/0008": prefix length…`},
		{"10.0.0.300/8", `"10.0.0.300/8": not an IP address`},
		{"/8", `"/8": not an IP address`},
		{"10.0.0.1-2001:db8::1", `"10.0.0.1-2001:db8::1": range mixes IPv4 and IPv6`},
		{"2001:db8::1-10.0.0.1", `"2001:db8::1-10.0.0.1": range mixes IPv4 and IPv6`},
		{"::1-10.0.0.1", `"::1-10.0.0.1": range mixes IPv4 and IPv6`},
		{"10.0.0.1-::ffff:0:0:1", `"10.0.0.1-::ffff:0:0:1": range mixes IPv4 and IPv6`},
		{"10.0.0.1-10.0.0.300", `"10.0.0.1-10.0.0.300": not an IP address…`},
		{"10.0.0.1-", `"10.0.0.1-": not an IP address…`},
		{"-10.0.0.1", `"-10.0.0.1": not an IP address…`},
		{"10.0.0.1-10.0.0.2-10.0.0.3", `"10.0.0.1-10.0.0.2-10.0.0.3": not an IP address…`},
		{"10.0.0.0/8-10.0.0.9", `"10.0.0.0/8-10.0.0.9": not an IP address…`},
		{"fe80::1%eth0", `"fe80::1%eth0": zone not allowed`},
		{"fe80::1%eth0-fe80::9", `"fe80::1%eth0-fe80::9": zone not allowed…`},
		{"fe80::%eth0/64", `"fe80::%eth0/64": zone not allowed`},
		{"10.0.0.1%eth0", `"10.0.0.1%eth0": zone not allowed`},
		{"::ffff:10.0.0.0/95", `"::ffff:10.0.0.0/95": prefix length 95 too short…`},
		{"", `"": empty entry`},
		{"   ", `"": empty entry`},
		{"example.com", `"example.com": not an IP address`},
		{"010.0.0.1", `"010.0.0.1": not an IP address`},
		{"1.2.3", `"1.2.3": not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseEntry(tt.in)
			if err == nil {
				t.Fatalf("ParseEntry(%q) = %v, want error", tt.in, r)
			}
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not *EntryError", err)
			}
			got := err.Error()
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Fatalf("ParseEntry(%q) error = %q, want prefix %q", tt.in, got, prefix)
				}
			} else if got != tt.want {
				t.Fatalf("ParseEntry(%q) error = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRangeContains(t *testing.T) {
	r, _ := ParseEntry("10.0.0.0/8")
	for _, tt := range []struct {
		a    netip.Addr
		want bool
	}{
		{netip.MustParseAddr("10.1.2.3"), true},
		{netip.MustParseAddr("::ffff:10.1.2.3"), true},
		{netip.MustParseAddr("11.0.0.0"), false},
		{netip.MustParseAddr("::a01:203"), false}, // same low bits, IPv6
		{netip.Addr{}, false},
	} {
		if got := r.Contains(tt.a); got != tt.want {
			t.Errorf("Contains(%v) = %v, want %v", tt.a, got, tt.want)
		}
	}
	if (Range{}).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("zero Range contains an address")
	}
}

// An IPv6 range that only partly covers the mapped space matches IPv6
// clients only, like Caddy's client_ip matcher does for ::/0.
func TestPartlyMappedIPv6Range(t *testing.T) {
	f, err := NewFilter(nil, []string{"::/0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"2001:db8::1", false}, {"::1", false}, {"10.0.0.1", true}, {"::ffff:10.0.0.1", true},
	} {
		if got := f.Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("deny ::/0: Allowed(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
