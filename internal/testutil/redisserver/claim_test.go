package redisserver

import "testing"

// TestClaimPortInProcess: a port claimed in this process cannot be claimed
// again by it (tests of one binary starting servers in parallel), until
// released.
func TestClaimPortInProcess(t *testing.T) {
	port, release, ok := claimFree(DefaultFirstPort, DefaultLastPort, false)
	if !ok {
		t.Fatal("no free port in the default range")
	}
	if _, ok := claimPort(port); ok {
		t.Fatalf("port %d claimed twice in one process", port)
	}
	if p, r, ok := claimFree(port, port, false); ok {
		r()
		t.Fatalf("claimFree returned the claimed port %d", p)
	}
	release()
	again, ok := claimPort(port)
	if !ok {
		t.Fatalf("port %d not claimable after release", port)
	}
	again()
}
