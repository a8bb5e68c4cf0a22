package ipfilter

import (
	"net/netip"
	"strings"
	"testing"
)

// linearAllowed is the naive reference: deny wins, an empty allow list
// allows everything, an invalid address is refused.
func linearAllowed(allow, deny []Range, hasAllow bool, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, r := range deny {
		if r.Contains(addr) {
			return false
		}
	}
	if !hasAllow {
		return true
	}
	for _, r := range allow {
		if r.Contains(addr) {
			return true
		}
	}
	return false
}

func mustFilter(t testing.TB, allow, deny []string) *Filter {
	t.Helper()
	f, err := NewFilter(allow, deny)
	if err != nil {
		t.Fatalf("NewFilter(%q, %q): %v", allow, deny, err)
	}
	return f
}

func TestFilterAllowed(t *testing.T) {
	type check struct {
		addr string // "" means the zero netip.Addr
		want bool
	}
	tests := []struct {
		name        string
		allow, deny []string
		checks      []check
	}{
		{
			name: "no lists allows all valid addresses",
			checks: []check{
				{"10.0.0.1", true}, {"2001:db8::1", true}, {"0.0.0.0", true}, {"", false},
			},
		},
		{
			name: "empty allow means allow all unless denied",
			deny: []string{"203.0.113.0/24", "2001:db8:bad::/48"},
			checks: []check{
				{"203.0.113.7", false}, {"203.0.112.255", true}, {"203.0.114.0", true},
				{"::ffff:203.0.113.7", false}, {"2001:db8:bad::1", false}, {"2001:db8:bad0::1", true},
				{"10.0.0.1", true}, {"", false},
			},
		},
		{
			name:  "deny wins over allow",
			allow: []string{"10.0.0.0/8", "2001:db8::/32"},
			deny:  []string{"10.0.0.5", "10.1.0.0-10.1.0.255", "2001:db8::5"},
			checks: []check{
				{"10.0.0.4", true}, {"10.0.0.5", false}, {"10.0.0.6", true},
				{"10.1.0.0", false}, {"10.1.0.255", false}, {"10.1.1.0", true}, {"10.0.255.255", true},
				{"11.0.0.0", false}, {"9.255.255.255", false},
				{"2001:db8::4", true}, {"2001:db8::5", false}, {"2001:db9::", false},
			},
		},
		{
			name:  "allow list of one family refuses the other",
			allow: []string{"192.0.2.0/24"},
			checks: []check{
				{"192.0.2.1", true}, {"::ffff:192.0.2.1", true}, {"2001:db8::1", false}, {"::c000:201", false},
			},
		},
		{
			name:  "all entry forms",
			allow: []string{"192.0.2.55", "192.0.2.60-192.0.2.61", "198.51.100.0/24", "2001:db8::1", "2001:db8::10-2001:db8::ff", "2001:db8:1234::/48"},
			checks: []check{
				{"192.0.2.55", true}, {"192.0.2.56", false}, {"192.0.2.59", false}, {"192.0.2.60", true},
				{"192.0.2.61", true}, {"192.0.2.62", false}, {"198.51.100.0", true}, {"198.51.100.255", true},
				{"198.51.101.0", false}, {"2001:db8::1", true}, {"2001:db8::2", false}, {"2001:db8::f", false},
				{"2001:db8::10", true}, {"2001:db8::ff", true}, {"2001:db8::100", false},
				{"2001:db8:1234:ffff:ffff:ffff:ffff:ffff", true}, {"2001:db8:1235::", false},
			},
		},
		{
			name:  "mapped entries and lookups",
			allow: []string{"::ffff:10.0.0.0/104"},
			deny:  []string{"::ffff:10.9.9.9"},
			checks: []check{
				{"10.1.2.3", true}, {"::ffff:10.1.2.3", true}, {"10.9.9.9", false}, {"::ffff:10.9.9.9", false},
				{"11.0.0.1", false},
			},
		},
		{
			name:  "zones on looked-up addresses are ignored",
			allow: []string{"fe80::/10"},
			checks: []check{
				{"fe80::1%eth0", true}, {"fe80::1", true}, {"fec0::1%eth0", false},
			},
		},
		{
			name:  "extremes",
			allow: []string{"0.0.0.0/0", "::/0"},
			deny:  []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			checks: []check{
				{"0.0.0.0", false}, {"0.0.0.1", true}, {"255.255.255.254", true}, {"255.255.255.255", false},
				{"::", false}, {"::1", true}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", true},
				{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
			},
		},
		{
			name:  "deny everything",
			allow: []string{"10.0.0.0/8"},
			deny:  []string{"0.0.0.0/0"},
			checks: []check{
				{"10.0.0.1", false}, {"2001:db8::1", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFilter(t, tt.allow, tt.deny)
			var ar, dr []Range
			for _, s := range tt.allow {
				r, _ := ParseEntry(s)
				ar = append(ar, r)
			}
			for _, s := range tt.deny {
				r, _ := ParseEntry(s)
				dr = append(dr, r)
			}
			for _, c := range tt.checks {
				var a netip.Addr
				if c.addr != "" {
					a = netip.MustParseAddr(c.addr)
				}
				if got := f.Allowed(a); got != c.want {
					t.Errorf("Allowed(%v) = %v, want %v", a, got, c.want)
				}
				if got := linearAllowed(ar, dr, len(tt.allow) > 0, a); got != c.want {
					t.Errorf("reference(%v) = %v, want %v (test table is wrong)", a, got, c.want)
				}
				if got, rule := f.Explain(a); got != c.want {
					t.Errorf("Explain(%v) = %v (%s), want %v", a, got, rule, c.want)
				}
			}
		})
	}
}

func TestNilFilter(t *testing.T) {
	var f *Filter
	if !f.Allowed(netip.MustParseAddr("10.0.0.1")) {
		t.Error("nil Filter refused an address")
	}
	if ok, _ := f.Explain(netip.MustParseAddr("10.0.0.1")); !ok {
		t.Error("nil Filter Explain refused an address")
	}
	if a, d := f.Len(); a != 0 || d != 0 {
		t.Errorf("nil Len = %d, %d", a, d)
	}
}

func TestNewFilterErrors(t *testing.T) {
	tests := []struct {
		allow, deny []string
		want        string
	}{
		{[]string{"10.0.0.1", "10.0.0.300"}, nil, `"10.0.0.300": not an IP address`},
		{nil, []string{"10.0.0.9-10.0.0.1"}, `"10.0.0.9-10.0.0.1": range start after end`},
		{nil, []string{"10.0.0.0/33"}, `"10.0.0.0/33": prefix length`},
		{[]string{""}, nil, `"": empty entry`},
		{nil, []string{"fe80::1%eth0"}, `"fe80::1%eth0": zone not allowed`},
	}
	for _, tt := range tests {
		f, err := NewFilter(tt.allow, tt.deny)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("NewFilter(%q, %q) = %v, %v; want error %q", tt.allow, tt.deny, f, err, tt.want)
		}
	}
}

func TestFilterLen(t *testing.T) {
	tests := []struct {
		allow, deny         []string
		wantAllow, wantDeny int
	}{
		{nil, nil, 0, 0},
		{[]string{"10.0.0.0/24", "10.0.1.0/24"}, nil, 1, 0},                             // adjacent merge
		{[]string{"10.0.0.0/8", "10.1.2.3", "10.5.0.0-10.6.0.0"}, nil, 1, 0},            // contained
		{[]string{"10.0.0.1", "10.0.0.3"}, []string{"::1", "::2", "::4"}, 2, 2},         // gaps kept
		{[]string{"10.0.0.0-10.0.0.9", "10.0.0.5-10.0.0.20", "::/0", "::1"}, nil, 2, 0}, // overlap, families separate
		{[]string{"255.255.255.255", "255.255.255.254"}, []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"}, 1, 1},
	}
	for _, tt := range tests {
		f := mustFilter(t, tt.allow, tt.deny)
		if a, d := f.Len(); a != tt.wantAllow || d != tt.wantDeny {
			t.Errorf("Len(%q, %q) = %d, %d; want %d, %d", tt.allow, tt.deny, a, d, tt.wantAllow, tt.wantDeny)
		}
	}
}

func TestFilterExplain(t *testing.T) {
	f := mustFilter(t, []string{" 10.0.0.0/8 ", "2001:db8::/32"}, []string{"10.0.0.0/24", "10.9.9.9"})
	tests := []struct {
		addr string
		ok   bool
		rule string
	}{
		{"10.0.0.7", false, `deny "10.0.0.0/24"`},
		{"::ffff:10.9.9.9", false, `deny "10.9.9.9"`},
		{"10.1.0.1", true, `allow "10.0.0.0/8"`},
		{"2001:db8::1", true, `allow "2001:db8::/32"`},
		{"192.0.2.1", false, "not in allow list"},
	}
	for _, tt := range tests {
		ok, rule := f.Explain(netip.MustParseAddr(tt.addr))
		if ok != tt.ok || rule != tt.rule {
			t.Errorf("Explain(%s) = %v, %q; want %v, %q", tt.addr, ok, rule, tt.ok, tt.rule)
		}
	}
	if ok, rule := f.Explain(netip.Addr{}); ok || rule != "invalid address" {
		t.Errorf("Explain(invalid) = %v, %q", ok, rule)
	}
	g := mustFilter(t, nil, []string{"10.0.0.0/8"})
	if ok, rule := g.Explain(netip.MustParseAddr("192.0.2.1")); !ok || rule != "no allow list" {
		t.Errorf("Explain without allow list = %v, %q", ok, rule)
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	f := mustFilter(t, []string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.0.0.5"})
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("::ffff:10.0.0.6"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1%eth0"), {},
	}
	n := testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			f.Allowed(a)
		}
	})
	if n != 0 {
		t.Errorf("Allowed allocates %v times per run", n)
	}
}
