package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var replayCases = map[string]func(*testing.T, *env){
	"FirstUseWins": func(t *testing.T, e *env) {
		first, err := e.MarkUsed(e.ctx, "m1", T0.Add(time.Minute))
		if err != nil || !first {
			t.Fatalf("first use: first=%v err=%v", first, err)
		}
		first, err = e.MarkUsed(e.ctx, "m1", T0.Add(time.Hour))
		if err != nil || first {
			t.Fatalf("replay: first=%v err=%v", first, err)
		}
		if first, err := e.MarkUsed(e.ctx, "m2", T0.Add(time.Minute)); err != nil || !first {
			t.Fatalf("another key: first=%v err=%v", first, err)
		}
	},
	"Expiry": func(t *testing.T, e *env) {
		if _, err := e.MarkUsed(e.ctx, "m1", T0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A replay does not extend the marker: it expires at T0+1m.
		if first, _ := e.MarkUsed(e.ctx, "m1", T0.Add(time.Hour)); first {
			t.Fatal("replay counted as first")
		}
		e.clock.Set(T0.Add(time.Minute - time.Nanosecond))
		if first, _ := e.MarkUsed(e.ctx, "m1", T0.Add(time.Hour)); first {
			t.Fatal("replay just before expiry counted as first")
		}
		e.clock.Set(T0.Add(time.Minute))
		first, err := e.MarkUsed(e.ctx, "m1", T0.Add(2*time.Minute))
		if err != nil || !first {
			t.Fatalf("after expiry: first=%v err=%v", first, err)
		}
		e.clock.Set(T0.Add(time.Minute + time.Second))
		if first, err := e.MarkUsed(e.ctx, "m1", T0.Add(3*time.Minute)); err != nil || first {
			t.Fatalf("replay of the overwritten marker: first=%v err=%v", first, err)
		}
	},
	"Validation": func(t *testing.T, e *env) {
		if _, err := e.MarkUsed(e.ctx, "", T0); err == nil {
			t.Error("empty key accepted")
		}
		if _, err := e.MarkUsed(e.ctx, "m2", time.Time{}); err == nil {
			t.Error("zero until accepted")
		}
	},
	"Concurrent": func(t *testing.T, e *env) {
		const n = 50
		var firsts atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				first, err := e.MarkUsed(e.ctx, "assertion-1", T0.Add(time.Hour))
				if err != nil {
					t.Error(err)
				}
				if first {
					firsts.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if firsts.Load() != 1 {
			t.Fatalf("%d of %d callers saw a first use, want exactly 1", firsts.Load(), n)
		}
	},
}
