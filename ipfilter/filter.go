package ipfilter

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Filter decides whether a client address is allowed by an allow list and a
// deny list. Deny wins over allow; an empty allow list means "everything is
// allowed unless denied". A Filter is immutable once built and safe for
// concurrent use.
//
// Internally both lists are merged into sorted, non-overlapping intervals per
// family and the allowed set (allow, or everything, minus deny) is
// precomputed, so Allowed is a single search over flat arrays: a bucket
// index on the address bits narrows it to a few entries, then a binary
// search finishes (see set4).
type Filter struct {
	v4 set4 // allowed IPv4 intervals
	v6 set6 // allowed IPv6 intervals

	allowN, denyN int  // merged interval counts, for Len
	hasAllow      bool // an allow list exists (even if it turned out empty)
	explain       explainIndex
}

// rule keeps an entry's original text and origin, for Explain only.
type rule struct {
	deny   bool
	origin string // "" for inline entries, "path:line" for file entries
	text   string
	r      Range
}

func (r rule) String() string {
	kind := "allow"
	if r.deny {
		kind = "deny"
	}
	if r.origin != "" {
		return kind + "_file " + r.origin + " " + strconv.Quote(r.text)
	}
	return kind + " " + strconv.Quote(r.text)
}

// NewFilter parses allow and deny entries (see ParseEntry) and builds a
// Filter. The first bad entry is returned as an error; nothing is ignored.
func NewFilter(allow, deny []string) (*Filter, error) {
	rules := make([]rule, 0, len(allow)+len(deny))
	for i, list := range [2][]string{allow, deny} {
		for _, s := range list {
			r, err := ParseEntry(s)
			if err != nil {
				return nil, err
			}
			rules = append(rules, rule{deny: i == 1, text: trimmed(s), r: r})
		}
	}
	return build(rules, len(allow) > 0), nil
}

// Allowed reports whether addr passes the filter. An IPv4-mapped IPv6
// address is checked as IPv4 and a zone is ignored. The zero (invalid)
// netip.Addr is never allowed. A nil *Filter allows everything.
// Allowed is O(log n), allocation-free and safe for concurrent use.
func (f *Filter) Allowed(addr netip.Addr) bool {
	if f == nil {
		return true
	}
	switch {
	case addr.Is4():
		return f.v4.contains(be32(addr.As4()))
	case addr.Is4In6():
		b := addr.As16()
		return f.v4.contains(binary.BigEndian.Uint32(b[12:]))
	case addr.Is6():
		return f.v6.contains(u128From(addr))
	}
	return false
}

// Explain is the slow path of Allowed, for log lines: it returns the same
// decision and the rule that made it, such as `deny "10.0.0.0/8"`,
// `deny_file blocklist.txt:12 "10.0.0.0/8"`, `allow "192.0.2.0/24"`,
// `not in allow list`, `no allow list` or `invalid address`. It is
// O(log n) too (see ruleIndex), though it allocates the rule's text.
func (f *Filter) Explain(addr netip.Addr) (allowed bool, rule string) {
	if f == nil {
		return true, "no filter"
	}
	if !addr.IsValid() {
		return false, "invalid address"
	}
	allowed = f.Allowed(addr)
	if r, ok := f.explain.find(addr.Unmap().WithZone(""), !allowed); ok {
		return allowed, r.String()
	}
	if allowed {
		return true, "no allow list"
	}
	return false, "not in allow list"
}

// Len returns the number of merged allow and deny intervals (both families).
func (f *Filter) Len() (allow, deny int) {
	if f == nil {
		return 0, 0
	}
	return f.allowN, f.denyN
}

// HasAllowList reports whether an allow list is configured, in which case
// addresses outside it are refused.
func (f *Filter) HasAllowList() bool { return f != nil && f.hasAllow }

// trimmed is the entry text kept for Explain: trimmed like ParseEntry does.
func trimmed(s string) string { return strings.TrimSpace(s) }

// interval is an inclusive [lo, hi] over u128 keys of one family.
type interval struct{ lo, hi u128 }

// build merges the rules into the lookup structure.
func build(rules []rule, hasAllow bool) *Filter {
	var a4, a6, d4, d6 []interval
	for _, r := range rules {
		iv := interval{key(r.r.From), key(r.r.To)}
		v4 := r.r.From.Is4()
		switch {
		case r.deny && v4:
			d4 = append(d4, iv)
		case r.deny:
			d6 = append(d6, iv)
		case v4:
			a4 = append(a4, iv)
		default:
			a6 = append(a6, iv)
		}
	}
	a4, a6, d4, d6 = merge(a4), merge(a6), merge(d4), merge(d6)
	f := &Filter{
		allowN:   len(a4) + len(a6),
		denyN:    len(d4) + len(d6),
		hasAllow: hasAllow,
		explain:  newExplainIndex(rules),
	}
	if !hasAllow {
		a4 = []interval{{u128{}, maxV4}}
		a6 = []interval{{u128{}, maxU128}}
	}
	e4, e6 := subtract(a4, d4), subtract(a6, d6)
	f.v4, f.v6 = newSet4(e4), newSet6(e6)
	return f
}

// merge sorts ivs and joins overlapping and adjacent intervals. It reuses ivs.
func merge(ivs []interval) []interval {
	if len(ivs) == 0 {
		return nil
	}
	slices.SortFunc(ivs, func(a, b interval) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := ivs[:1]
	for _, iv := range ivs[1:] {
		last := &out[len(out)-1]
		if last.hi == maxU128 || !last.hi.add1().less(iv.lo) { // iv.lo <= last.hi+1
			if last.hi.less(iv.hi) {
				last.hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return slices.Clip(out)
}

// subtract returns a \ d for sorted, merged interval lists.
func subtract(a, d []interval) []interval {
	var out []interval
	j := 0
	for _, iv := range a {
		for j < len(d) && d[j].hi.less(iv.lo) {
			j++
		}
		cur, done := iv.lo, false
		for k := j; k < len(d) && !iv.hi.less(d[k].lo); k++ { // d[k].lo <= iv.hi
			if cur.less(d[k].lo) {
				out = append(out, interval{cur, d[k].lo.sub1()})
			}
			if !d[k].hi.less(iv.hi) { // d[k].hi >= iv.hi
				done = true
				break
			}
			cur = d[k].hi.add1()
		}
		if !done {
			out = append(out, interval{cur, iv.hi})
		}
	}
	return out
}

// Lookup structures. Intervals are sorted and disjoint, stored as parallel
// lo/hi arrays. With enough intervals, a bucket index narrows the binary
// search: the interior starts lo[1]..lo[n-1] share a common prefix of p bits
// (the first and last intervals often reach to the ends of the address space,
// e.g. "everything but the deny list", so they are left out); the k bits
// after it select a bucket, and idx[b]..idx[b+1] bounds the intervals whose
// lo falls in bucket b. On lists of realistic spread this leaves a search
// over a handful of entries: about two cache misses instead of one per level
// of a plain binary search.

// minIndexed is the interval count from which a bucket index is built (a
// variable so that tests can exercise the index on small lists).
var minIndexed = 32

// indexBits returns k for n intervals whose interior has a common prefix of
// p bits out of width: about log2(n)+1, at most 16 and at most width-p.
func indexBits(n, p, width int) int {
	if n < minIndexed {
		return 0
	}
	return min(bits.Len(uint(n)), 16, width-p)
}

// buildIndex fills idx[b] with the first i in [1, n) whose bucket(lo[i]) >= b.
func buildIndex(n, k int, bucketOf func(i int) uint32) []uint32 {
	idx := make([]uint32, 1<<k+1)
	i := 1
	for b := range 1 << k {
		for i < n && bucketOf(i) < uint32(b) {
			i++
		}
		idx[b] = uint32(i)
	}
	idx[1<<k] = uint32(n)
	return idx
}

// set4 holds the allowed IPv4 intervals.
type set4 struct {
	lo, hi []uint32
	p, k   uint     // common prefix length, index bits (k == 0: no index)
	idx    []uint32 // 1<<k + 1 entries
}

func (s *set4) bucket(x uint32) uint32 { return (x << s.p) >> (32 - s.k) }

func newSet4(ivs []interval) set4 {
	n := len(ivs)
	s := set4{lo: make([]uint32, n), hi: make([]uint32, n)}
	for i, iv := range ivs {
		s.lo[i], s.hi[i] = uint32(iv.lo.lo), uint32(iv.hi.lo)
	}
	if n < 3 {
		return s
	}
	p := bits.LeadingZeros32(s.lo[1] ^ s.lo[n-1])
	if k := indexBits(n, p, 32); k > 0 {
		s.p, s.k = uint(p), uint(k)
		s.idx = buildIndex(n, k, func(i int) uint32 { return s.bucket(s.lo[i]) })
	}
	return s
}

func (s *set4) contains(x uint32) bool {
	n := len(s.lo)
	if n == 0 || x < s.lo[0] {
		return false
	}
	var i int // the last interval with lo <= x
	switch {
	case x >= s.lo[n-1]:
		i = n - 1
	case x < s.lo[1]: // n >= 2 here
		i = 0
	default: // lo[1] <= x < lo[n-1]: x shares the interior prefix
		lo, hi := 1, n-1
		if s.k != 0 {
			b := s.bucket(x)
			lo, hi = int(s.idx[b]), int(s.idx[b+1])
		}
		for lo < hi { // first index with s.lo[index] > x
			m := int(uint(lo+hi) >> 1)
			if s.lo[m] <= x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo - 1
	}
	return x <= s.hi[i]
}

// set6 is set4 for IPv6.
type set6 struct {
	lo, hi []u128
	p, k   uint
	idx    []uint32
}

func (s *set6) bucket(x u128) uint32 {
	// bits [p, p+k) of x
	top := x.hi
	if s.p >= 64 {
		top = x.lo << (s.p - 64)
	} else if s.p > 0 {
		top = x.hi<<s.p | x.lo>>(64-s.p)
	}
	return uint32(top >> (64 - s.k))
}

func newSet6(ivs []interval) set6 {
	n := len(ivs)
	s := set6{lo: make([]u128, n), hi: make([]u128, n)}
	for i, iv := range ivs {
		s.lo[i], s.hi[i] = iv.lo, iv.hi
	}
	if n < 3 {
		return s
	}
	a, b := s.lo[1], s.lo[n-1]
	p := bits.LeadingZeros64(a.hi ^ b.hi)
	if p == 64 {
		p += bits.LeadingZeros64(a.lo ^ b.lo)
	}
	if k := indexBits(n, p, 128); k > 0 {
		s.p, s.k = uint(p), uint(k)
		s.idx = buildIndex(n, k, func(i int) uint32 { return s.bucket(s.lo[i]) })
	}
	return s
}

func (s *set6) contains(x u128) bool {
	n := len(s.lo)
	if n == 0 || x.less(s.lo[0]) {
		return false
	}
	var i int
	switch {
	case !x.less(s.lo[n-1]):
		i = n - 1
	case x.less(s.lo[1]):
		i = 0
	default:
		lo, hi := 1, n-1
		if s.k != 0 {
			b := s.bucket(x)
			lo, hi = int(s.idx[b]), int(s.idx[b+1])
		}
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if !x.less(s.lo[m]) { // s.lo[m] <= x
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo - 1
	}
	return !s.hi[i].less(x)
}
