package testutil

import (
	"sync/atomic"
	"testing"
)

// Race counts each answer once, by the first class that takes it.
func TestRaceCounts(t *testing.T) {
	var calls atomic.Int32
	winner, wins, refusals := Race(50, func() int32 { return calls.Add(1) },
		func(n int32) bool { return n == 7 },
		func(n int32) bool { return n%2 == 1 })
	if calls.Load() != 50 || winner != 7 || wins != 1 || refusals != 24 {
		t.Fatalf("calls %d, winner %d, wins %d, refusals %d", calls.Load(), winner, wins, refusals)
	}
}
