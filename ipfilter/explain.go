package ipfilter

import (
	"net/netip"
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
	sort.Slice(rules, func(i, j int) bool { return rules[i].r.From.Less(rules[j].r.From) })
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

// explainIndex holds one ruleIndex per list and family.
type explainIndex struct {
	allow4, allow6, deny4, deny6 ruleIndex
}

func newExplainIndex(rules []rule) explainIndex {
	var a4, a6, d4, d6 []rule
	for _, r := range rules {
		v4 := r.r.From.Is4()
		switch {
		case r.deny && v4:
			d4 = append(d4, r)
		case r.deny:
			d6 = append(d6, r)
		case v4:
			a4 = append(a4, r)
		default:
			a6 = append(a6, r)
		}
	}
	return explainIndex{newRuleIndex(a4), newRuleIndex(a6), newRuleIndex(d4), newRuleIndex(d6)}
}

// find returns the deny (deny=true) or allow rule that contains a.
func (e *explainIndex) find(a netip.Addr, deny bool) (rule, bool) {
	switch {
	case deny && a.Is4():
		return e.deny4.find(a)
	case deny:
		return e.deny6.find(a)
	case a.Is4():
		return e.allow4.find(a)
	}
	return e.allow6.find(a)
}
