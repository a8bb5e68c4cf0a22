package redisserver

import (
	"os"
	"sync"
	"testing"
)

// SharedCluster is one Cluster for a whole test binary: started by the
// first test that asks for it (Get), stopped by Stop, which TestMain calls
// after m.Run. Tests that only need a working Cluster share it, each under
// a key prefix of its own (several may run at once, and -count=2 runs them
// again on the same servers); a test that stops, restarts or reconfigures
// a server starts its own with StartCluster.
//
//	var cluster redisserver.SharedCluster
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		cluster.Stop()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) {
//		cl := cluster.Get(t)
//		...
//	}
type SharedCluster struct {
	// Options are those of StartCluster (read at the first Get).
	Options Options

	once sync.Once
	c    *Cluster
	life *detached
}

// Get returns the shared Cluster, starting it on the first call. It skips
// (fails under CI=true) like Start where redis-server is missing; if
// starting failed, the first caller failed with the reason and every later
// one fails too.
func (s *SharedCluster) Get(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	s.once.Do(func() {
		s.life = &detached{TB: t}
		s.c = StartCluster(s.life, s.Options) // a failure ends t here
		s.life.detach()
	})
	if s.c == nil {
		t.Fatal("redisserver: the shared Cluster did not start (see the first test that asked for it)")
	}
	return s.c
}

// Stop stops the shared Cluster's servers and removes their directories;
// a SharedCluster never started is left as it is.
func (s *SharedCluster) Stop() {
	if s.life != nil {
		s.life.cleanup()
	}
}

// detached is the testing.TB of servers that outlive the test that started
// them: failures and skips while starting go to that test, cleanups and
// temporary directories are its own, until cleanup.
type detached struct {
	testing.TB // the test that started the servers, until detach

	mu       sync.Mutex
	cleanups []func()
}

func (d *detached) Helper() {}

func (d *detached) Cleanup(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cleanups = append(d.cleanups, f)
}

func (d *detached) TempDir() string {
	dir, err := os.MkdirTemp("", "redisserver-")
	if err != nil {
		d.TB.Fatal(err)
	}
	d.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// detach forgets the test that started the servers (it may end now).
func (d *detached) detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.TB = nil
}

// cleanup runs the cleanups last-in first-out, as testing does.
func (d *detached) cleanup() {
	d.mu.Lock()
	fs := d.cleanups
	d.cleanups = nil
	d.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
