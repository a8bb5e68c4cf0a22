package redisserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// StartSentinel starts a Sentinel (redis-server --sentinel) that monitors
// master under the name master, with quorum 1, on a free port of the range.
func StartSentinel(t testing.TB, master *Server, name string, opts Options) *Server {
	t.Helper()
	bin := Require(t)
	if opts.FirstPort == 0 {
		opts.FirstPort, opts.LastPort = DefaultFirstPort, DefaultLastPort
	}
	portMu.Lock()
	defer portMu.Unlock()
	var lastErr error
	for port := opts.FirstPort; port <= opts.LastPort; port++ {
		if !free(port) {
			continue
		}
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nprotected-mode no\n"+
			"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 5000\n",
			port, dir, filepath.Join(dir, "redis.log"), name, master.Port, name)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir, args: []string{bin, conf, "--sentinel"}}
		if lastErr = s.launch(); lastErr != nil {
			continue
		}
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("redisserver: no sentinel port of %d-%d could be used: %v", opts.FirstPort, opts.LastPort, lastErr)
	return nil
}
