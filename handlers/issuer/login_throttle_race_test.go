package issuer

import (
	"context"
	"errors"
	"testing"
)

// Concurrent attempts must not slip past the per-name throttle: once a name
// has used its free attempts, the attempts that arrive together after its
// delay get one password check between them, not one each (the delay is
// set only when a check fails, so before, every attempt that was waiting in
// line passed the throttle before the first one failed).
func TestLoginThrottleHoldsConcurrentAttempts(t *testing.T) {
	e := userEnv(t, nil) // the hash limiter admits 4 at once
	ctx := context.Background()
	for n := 1; n <= ThrottleFreePerUser; n++ {
		if _, err := e.iss.authenticateUser(ctx, "alice", "wrong", testAddr); !errors.Is(err, errBadCredentials) {
			t.Fatalf("attempt %d: %v", n, err)
		}
	}
	e.clock.Advance(ThrottleBaseDelay)
	const attempts = 4
	entered, release := make(chan struct{}, attempts), make(chan struct{})
	e.iss.hashHook = func() { entered <- struct{}{}; <-release }
	results := make(chan error, attempts)
	for range attempts {
		go func() {
			_, err := e.iss.authenticateUser(ctx, "alice", "guess", testAddr)
			results <- err
		}()
	}
	// Each attempt either reaches the password check (and blocks there)
	// or is answered at once.
	hashed, answers := 0, []error{}
	for hashed+len(answers) < attempts {
		select {
		case <-entered:
			hashed++
		case err := <-results:
			answers = append(answers, err)
		}
	}
	close(release)
	for len(answers) < attempts {
		answers = append(answers, <-results)
	}
	throttled := 0
	for _, err := range answers {
		var te *throttledError
		if errors.As(err, &te) {
			throttled++
		}
	}
	if hashed != 1 || throttled != attempts-1 {
		t.Fatalf("%d concurrent attempts after the delay: %d password checks, %d throttled (%v)", attempts, hashed, throttled, answers)
	}
}
