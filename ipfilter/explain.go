package ipfilter

import (
	"net/netip"
	"slices"
	"sort"
)

// ruleIndex finds, in O(log n), a rule of one list and family that contains
// an address: rules are sorted by start, and best[j] is the rule reaching
// furthest among rules[0..j]. Of all rules starting at or before the
// address, that one contains it if any does. Explain runs on every refused
// request, so a blocklist of 100 000 entries must not make refusals costly.
type ruleIndex struct {
	rules []rule
	best  []int32
}

func newRuleIndex(rules []rule) ruleIndex {
	slices.SortFunc(rules, func(a, b rule) int { return a.r.From.Compare(b.r.From) })
	best := make([]int32, len(rules))
	for i := range rules {
		best[i] = int32(i)
		if i > 0 && rules[best[i-1]].r.To.Compare(rules[i].r.To) >= 0 {
			best[i] = best[i-1]
		}
	}
	return ruleIndex{rules: rules, best: best}
}

// find returns a rule containing a (same family, unmapped), if any.
func (x *ruleIndex) find(a netip.Addr) (rule, bool) {
	j := sort.Search(len(x.rules), func(i int) bool { return x.rules[i].r.From.Compare(a) > 0 }) - 1
	if j < 0 {
		return rule{}, false
	}
	if r := x.rules[x.best[j]]; r.r.Contains(a) {
		return r, true
	}
	return rule{}, false
}

// explainIndex holds one ruleIndex per list and family, indexed by listOf.
type explainIndex [4]ruleIndex

func newExplainIndex(rules []rule) explainIndex {
	var lists [4][]rule
	var n [4]int
	for _, r := range rules {
		n[listOf(r.deny, r.r.From)]++
	}
	for i := range lists {
		lists[i] = make([]rule, 0, n[i])
	}
	for _, r := range rules {
		i := listOf(r.deny, r.r.From)
		lists[i] = append(lists[i], r)
	}
	var e explainIndex
	for i := range e {
		e[i] = newRuleIndex(lists[i])
	}
	return e
}

// listOf numbers the four lists: allow v4, allow v6, deny v4, deny v6.
func listOf(deny bool, a netip.Addr) int {
	i := 0
	if !a.Is4() {
		i = 1
	}
	if deny {
		i += 2
	}
	return i
}

// find returns the deny (deny=true) or allow rule that contains a.
func (e *explainIndex) find(a netip.Addr, deny bool) (rule, bool) {
	return e[listOf(deny, a)].find(a)
}
