package ipfilter

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// TestExplainAgreesWithLinearScan: over random overlapping entries, Explain
// names a rule of the deciding list that contains the address exactly when
// a linear scan finds one.
func TestExplainAgreesWithLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := 0; round < 50; round++ {
		allow := genEntries(rng, 40)
		deny := genEntries(rng, 40)
		f, err := NewFilter(allow, deny)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range genLookups(rng, append(allow, deny...), 200) {
			allowed, rule := f.Explain(a)
			if allowed != f.Allowed(a) {
				t.Fatalf("Explain(%s) disagrees with Allowed", a)
			}
			list, want := allow, "allow "
			if !allowed {
				list, want = deny, "deny "
			}
			var containing []string
			for _, e := range list {
				if r, _ := ParseEntry(e); r.Contains(a.Unmap()) {
					containing = append(containing, e)
				}
			}
			if len(containing) == 0 {
				if strings.HasPrefix(rule, "allow ") || strings.HasPrefix(rule, "deny ") {
					t.Fatalf("%s: rule %q, but no %sentry contains it", a, rule, want)
				}
				continue
			}
			if !strings.HasPrefix(rule, want) {
				t.Fatalf("%s: rule %q, want one of %q", a, rule, containing)
			}
			text := strings.Trim(strings.TrimPrefix(rule, want), `"`)
			if r, err := ParseEntry(text); err != nil || !r.Contains(a.Unmap()) {
				t.Fatalf("%s: named rule %q does not contain it", a, rule)
			}
		}
	}
}

// BenchmarkExplainRefused is the log path of a refused request against a
// 100 000-entry deny list: it must stay logarithmic.
func BenchmarkExplainRefused(b *testing.B) {
	rng := rand.New(rand.NewPCG(42, 100000))
	entries := genEntries(rng, 100000)
	f, err := NewFilter(nil, entries)
	if err != nil {
		b.Fatal(err)
	}
	var denied []netip.Addr
	for _, a := range genLookups(rng, entries, 4096) {
		if !f.Allowed(a) {
			denied = append(denied, a)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if ok, _ := f.Explain(denied[i%len(denied)]); ok {
			b.Fatal("allowed")
		}
		i++
	}
}
