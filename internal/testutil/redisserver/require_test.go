package redisserver

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of acting.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any)         { r.failed = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = fmt.Sprintf(f, a...) }

// TestRequireMissingServer: without redis-server a test is skipped with a
// message naming the Debian package, and fails under CI=true.
func TestRequireMissingServer(t *testing.T) {
	t.Setenv("REDIS_SERVER", "/nonexistent/redis-server")
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	Require(r)
	if !strings.Contains(r.skipped, "redis-server") || !strings.Contains(r.skipped, "apt-get install redis-server") || r.failed != "" {
		t.Fatalf("locally: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	Require(r)
	if !strings.Contains(r.failed, "redis-server") || r.skipped != "" {
		t.Fatalf("under CI: skipped %q, failed %q", r.skipped, r.failed)
	}
}
