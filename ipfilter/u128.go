package ipfilter

import (
	"encoding/binary"
	"math"
	"net/netip"
)

// u128 is an unsigned 128-bit integer, used for IPv6 addresses and, during
// construction, for IPv4 addresses too (hi == 0, lo <= MaxUint32).
type u128 struct{ hi, lo uint64 }

var (
	maxU128 = u128{math.MaxUint64, math.MaxUint64}
	maxV4   = u128{0, math.MaxUint32}
)

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) or(b u128) u128 { return u128{a.hi | b.hi, a.lo | b.lo} }

func (a u128) add1() u128 {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

func (a u128) sub1() u128 {
	lo := a.lo - 1
	hi := a.hi
	if a.lo == 0 {
		hi--
	}
	return u128{hi, lo}
}

// addr converts an IPv6 value back to a netip.Addr.
func (a u128) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b)
}

// hostMask returns the host bits of an IPv6 prefix of length bits (0-128).
func hostMask(bits int) u128 {
	switch {
	case bits <= 0:
		return maxU128
	case bits >= 128:
		return u128{}
	case bits >= 64:
		return u128{0, math.MaxUint64 >> (bits - 64)}
	default:
		return u128{math.MaxUint64 >> bits, math.MaxUint64}
	}
}

func u128From(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func be32(b [4]byte) uint32 { return binary.BigEndian.Uint32(b[:]) }

func addr4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// key converts an unmapped address to its u128 value (IPv4 in the low 32 bits).
func key(a netip.Addr) u128 {
	if a.Is4() {
		return u128{0, uint64(be32(a.As4()))}
	}
	return u128From(a)
}
