package redis_test

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
)

// cluster is the package's one 3-master Cluster, shared by the tests that
// only need a working Cluster (each under a prefix of its own: unique).
var cluster redisserver.SharedCluster

// parallel is how many tests run at once unless -parallel says otherwise
// (its default is GOMAXPROCS, 2 on a small CI machine): these tests mostly
// wait, on redis-server and on go-redis' dial retries and redials.
const parallel = "8"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", parallel)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// unique returns a key prefix no other test (nor another -count run) uses.
func unique(name string) string {
	return fmt.Sprintf("%s%d-%d:", name, time.Now().UnixNano(), prefixes.Add(1))
}
