package redisserver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// StartSentinel starts a Sentinel (redis-server --sentinel) that monitors
// master under the name master, with quorum 1, on a free port of the range.
func StartSentinel(t testing.TB, master *Server, name string, opts Options) *Server {
	t.Helper()
	return onFreePort(t, opts, false, func(bin string, port int, dir string) []string {
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nprotected-mode no\n"+
			"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 5000\n",
			port, dir, filepath.Join(dir, "redis.log"), name, master.Port, name)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{bin, conf, "--sentinel"}
	})
}
