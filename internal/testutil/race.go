package testutil

import (
	"sync"
	"sync/atomic"
)

// Together runs f on n goroutines released at once and waits for all.
func Together(n int, f func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f()
		}()
	}
	close(start)
	wg.Wait()
}

// Race runs do on n goroutines released at once, as n clients presenting
// one single-use credential together, and counts the answers won and
// refused pick out; winner is a winning answer (the last, if several).
func Race[R any](n int, do func() R, won, refused func(R) bool) (winner R, wins, refusals int) {
	var nWon, nRefused atomic.Int32
	var mu sync.Mutex
	Together(n, func() {
		r := do()
		switch {
		case won(r):
			nWon.Add(1)
			mu.Lock()
			winner = r
			mu.Unlock()
		case refused(r):
			nRefused.Add(1)
		}
	})
	return winner, int(nWon.Load()), int(nRefused.Load())
}
