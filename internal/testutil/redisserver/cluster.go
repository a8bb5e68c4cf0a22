package redisserver

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of three masters (no replicas).
type Cluster struct {
	Servers []*Server
}

// Addrs are the masters' addresses (Cluster seeds).
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		out[i] = s.Addr
	}
	return out
}

// StartCluster starts three redis-server --cluster-enabled yes, joins them
// with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Require(t)
	c := &Cluster{}
	for range 3 {
		c.Servers = append(c.Servers, start(t, opts, func(dir string) []string {
			return []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "5000"}
		}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range c.Servers {
		for {
			info, err := Command(s.Addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ok: %v %q", s.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond) // polling the nodes, not a timer
		}
	}
	return c
}
