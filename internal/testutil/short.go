package testutil

import "testing"

// SkipIfShort skips the test under `go test -short`: the inner-loop run
// leaves out tests that start another program (Chromium, node, redis-server,
// a child Caddy) or wait on a wall clock. `go test ./...` and CI run them all.
func SkipIfShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: leaves out tests that %s", what)
	}
}
