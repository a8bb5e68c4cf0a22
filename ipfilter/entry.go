// Package ipfilter parses and matches IP allow/deny lists: single addresses,
// inclusive ranges and CIDR prefixes, IPv4 and IPv6. Entries are merged into
// sorted, non-overlapping intervals per address family so that a lookup is a
// binary search: O(log n) and allocation-free, fast at 100 000 entries.
//
// The package uses the standard library only; module/ wires it into Caddy.
package ipfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Range is an inclusive interval of addresses. From and To are of the same
// family (both IPv4 or both IPv6), carry no zone, are unmapped (an
// IPv4-mapped IPv6 address is stored as plain IPv4) and From <= To.
//
// One exception to "unmapped": an IPv6 range that only partly covers the
// IPv4-mapped space ::ffff:0:0/96, such as ::/0 or ::/80, stays IPv6 and one
// of its ends may then be a mapped address. Like Caddy's client_ip matcher,
// such a range matches IPv6 clients only, never IPv4 ones (mapped lookups are
// checked as IPv4).
type Range struct{ From, To netip.Addr }

// Contains reports whether addr lies within r. addr is unmapped first and its
// zone, if any, is ignored. An invalid addr is never contained.
func (r Range) Contains(addr netip.Addr) bool {
	if !addr.IsValid() || !r.From.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	return addr.BitLen() == r.From.BitLen() && r.From.Compare(addr) <= 0 && addr.Compare(r.To) <= 0
}

// String renders r as a single address or "from-to".
func (r Range) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + "-" + r.To.String()
}

// EntryError is the error for an entry that could not be parsed. Its message
// names the entry (quoted) and why: `"10.0.0.300": not an IP address`.
type EntryError struct {
	Entry  string // the entry, trimmed of surrounding spaces
	Reason string
}

func (e *EntryError) Error() string { return strconv.Quote(e.Entry) + ": " + e.Reason }

// ParseEntry parses one list entry. Accepted forms, IPv4 or IPv6:
//
//	192.0.2.55                     a single address
//	192.0.2.55-192.0.2.61          an inclusive range (spaces around '-' allowed)
//	192.0.2.0/24                   a CIDR prefix
//	2001:db8::1, 2001:db8::1-2001:db8::ff, 2001:db8:1234::/48
//
// Surrounding spaces are trimmed. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1)
// are normalised to IPv4: a mapped prefix such as ::ffff:10.0.0.0/104 becomes
// 10.0.0.0/8 (a mapped prefix shorter than /96 is an error since it would
// reach outside the mapped space), a range whose two ends are mapped (or one
// mapped, one IPv4) becomes an IPv4 range. See Range for IPv6 ranges that
// only partly cover the mapped space. A CIDR with host bits set, like 10.0.0.1/8,
// is accepted and masked to 10.0.0.0/8. Zones (fe80::1%eth0) are rejected, as
// are empty entries, a range whose start is after its end and a range mixing
// IPv4 and IPv6. Errors are *EntryError.
func ParseEntry(s string) (Range, error) {
	s = strings.TrimSpace(s)
	bad := func(format string, args ...any) (Range, error) {
		return Range{}, &EntryError{Entry: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return bad("empty entry")
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		a, why := parseRawAddr(from)
		if why != "" {
			return bad("%s (range start %q)", why, from)
		}
		b, why := parseRawAddr(to)
		if why != "" {
			return bad("%s (range end %q)", why, to)
		}
		switch ua, ub := a.Unmap(), b.Unmap(); {
		case ua.Is4() && ub.Is4():
			a, b = ua, ub // IPv4, possibly written as mapped IPv6
		case a.Is6() && b.Is6():
			// IPv6; if only one end is mapped, it stays an IPv6 range
		default:
			return bad("range mixes IPv4 and IPv6")
		}
		if a.Compare(b) > 0 {
			return bad("range start after end")
		}
		return Range{From: a, To: b}, nil
	}
	if addrPart, bitsPart, ok := strings.Cut(s, "/"); ok {
		raw, why := parseRawAddr(addrPart)
		if why != "" {
			return bad("%s", why)
		}
		mapped, addr, maxBits := raw.Is4In6(), raw.Unmap(), raw.BitLen()
		bits, err := parseBits(bitsPart)
		if err != "" {
			return bad("prefix length %s", err)
		}
		if bits > maxBits {
			return bad("prefix length %d out of range 0-%d", bits, maxBits)
		}
		if mapped {
			if bits < 96 {
				return bad("prefix length %d too short for an IPv4-mapped address (minimum 96)", bits)
			}
			bits -= 96
		}
		p := netip.PrefixFrom(addr, bits).Masked()
		return Range{From: p.Addr(), To: lastAddr(p)}, nil
	}
	addr, why := parseAddr(s)
	if why != "" {
		return bad("%s", why)
	}
	return Range{From: addr, To: addr}, nil
}

// parseAddr parses a single address, unmapped; why is non-empty on failure.
func parseAddr(s string) (netip.Addr, string) {
	a, why := parseRawAddr(s)
	return a.Unmap(), why // Unmap of the zero Addr is the zero Addr
}

// parseRawAddr parses a single address without zone, as written.
func parseRawAddr(s string) (netip.Addr, string) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if _, err := netip.ParseAddr(s[:i]); err == nil {
			return netip.Addr{}, "zone not allowed"
		}
		return netip.Addr{}, "not an IP address"
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, "not an IP address"
	}
	return a, ""
}

// parseBits parses a decimal prefix length (digits only, no sign).
func parseBits(s string) (int, string) {
	if s == "" {
		return 0, "missing"
	}
	if len(s) > 3 {
		return 0, fmt.Sprintf("%q out of range", s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Sprintf("%q is not a number", s)
		}
		n = n*10 + int(c-'0')
	}
	return n, ""
}

// lastAddr returns the last address of the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		v := be32(a.As4())
		host := uint32(0)
		if p.Bits() < 32 {
			host = ^uint32(0) >> p.Bits()
		}
		return addr4(v | host)
	}
	v := u128From(a)
	return (v.or(hostMask(p.Bits()))).addr()
}
