package integration

import (
	"os"
	"sync"
	"testing"
	"time"
)

// The tests of this package run in parallel where they can. The in-process
// Caddy (TestMain's, admin localhost:2999) is one per process: caddytest
// loads each test's config into it, replacing the last one, and `caddy
// validate` provisions modules in it. So every test that loads a config
// into it, talks to its admin endpoint, or provisions modules in this
// process calls useInProcessCaddy first: such tests run one at a time,
// beside the tests that only use child Caddy processes (t.Parallel alone)
// or no Caddy at all. A test that calls neither (e.g. one that needs
// t.Setenv, which t.Parallel forbids) runs before all parallel tests, alone,
// which is also safe.
//
// Tests that may overlap must not share a port: each file keeps its own
// range, and a test that starts child processes must not reuse a port of
// any in-process test.

// inProcessCaddy is held by the one test that uses the in-process Caddy;
// inProcessHeld adds up how long (the serial part of this package's run,
// reported by TestMain under -v).
var (
	inProcessCaddy sync.Mutex
	inProcessHeld  time.Duration
)

// useInProcessCaddy marks t parallel and waits until no other test uses the
// in-process Caddy; t has it until its cleanup.
func useInProcessCaddy(t *testing.T) {
	t.Helper()
	t.Parallel()
	holdInProcessCaddy(t)
}

// holdInProcessCaddy is useInProcessCaddy for a test that called t.Parallel
// itself, to start what needs no Caddy (a browser, a provider process)
// before it waits: that start-up is then not part of the serial time.
func holdInProcessCaddy(t *testing.T) {
	t.Helper()
	inProcessCaddy.Lock()
	start := time.Now()
	t.Cleanup(func() {
		held := time.Since(start)
		inProcessHeld += held
		inProcessCaddy.Unlock()
		t.Logf("held the in-process Caddy for %s", held.Round(time.Millisecond))
	})
}

// setenvInProcess is t.Setenv for a test that holds the in-process Caddy
// (t.Setenv refuses parallel tests): the variable is what that Caddy reads
// ({env.NAME} placeholders); it is restored before the next such test runs.
// Child processes started meanwhile inherit it, which none of them reads.
func setenvInProcess(t *testing.T, key, value string) {
	t.Helper()
	if inProcessCaddy.TryLock() {
		inProcessCaddy.Unlock()
		t.Fatal("setenvInProcess outside useInProcessCaddy")
	}
	old, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}
