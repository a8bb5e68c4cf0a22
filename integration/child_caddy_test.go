package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A child Caddy (caddyCommand: this test binary as `caddy run`) for a test
// that would otherwise hold the in-process Caddy through long waits: it runs
// beside the tests that use the in-process one (see useInProcessCaddy), its
// configs loaded through its own admin endpoint as caddytest loads them into
// the in-process one (POST /load, text/caddyfile). The site and upstream
// ports stay the test's own.
//
// Admin endpoints, one fixed port per test on 127.0.0.1 (2901-2949 are for
// this use only):
//
//	2901 TestJWKSRotationUnderTraffic
//	2902 TestJWKSNewKidFetchedOnce
//	2903 TestJWKSProviderDown
//	2904 TestJWKSNeverFetched503
//	2905 TestGatewayMaxStaleAppliesToCachedTokens
//	2906 TestIPListThroughCaddy
//	2907 TestIssuerSecretRotation (site 127.0.0.1:9211)
//	2908 TestIssuerKeyRotationOverlap (site 127.0.0.1:9212)
//	2909 TestGatewayDiscoveryOfOwnIssuerDiesWithItsConfig (site 127.0.0.1:9213)
//	2910 TestAdminCLI (site 127.0.0.1:9752)
//	(TestJWKSValidateFetchesNothing runs `caddy validate` in a child: no admin endpoint)
type childCaddy struct {
	*instance
	adminPort int
}

// startChildCaddy starts a child Caddy (newChildCaddy) and loads caddyfile
// into it.
func startChildCaddy(t *testing.T, adminPort int, caddyfile string, env ...string) *childCaddy {
	t.Helper()
	c := newChildCaddy(t, adminPort, env...)
	c.load(t, caddyfile)
	return c
}

// newChildCaddy starts a child Caddy with only its admin endpoint (on
// 127.0.0.1:adminPort); env (KEY=value) is added to its environment.
func newChildCaddy(t *testing.T, adminPort int, env ...string) *childCaddy {
	t.Helper()
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	caddyfile := fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n}\n", adminPort)
	in := childInstance(t, t.Name(), caddyfile, admin+"/config/", env...)
	in.base = admin
	return &childCaddy{instance: in, adminPort: adminPort}
}

// load replaces the child's config with caddyfile, whose global options name
// the in-process admin endpoint (`admin localhost:2999`, as every config of
// this package does): the child's own takes its place. It returns once the
// child runs the new config (/load answers when it is in effect).
func (c *childCaddy) load(t *testing.T, caddyfile string) {
	t.Helper()
	const inProcess = "\tadmin localhost:2999\n"
	if !strings.Contains(caddyfile, inProcess) {
		t.Fatalf("the config names no `admin localhost:2999` for the child's admin endpoint to replace:\n%s", caddyfile)
	}
	caddyfile = strings.Replace(caddyfile, inProcess, fmt.Sprintf("\tadmin 127.0.0.1:%d\n", c.adminPort), 1)
	req, err := http.NewRequest("POST", c.base+"/load", strings.NewReader(caddyfile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("load into the child Caddy: %v\n%s", err, c.logs())
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("load into the child Caddy: %d %s", res.StatusCode, body)
	}
}

// childCaddyValidate runs `caddy validate` on the JSON config in a child
// Caddy: every module is provisioned and validated there, nothing started.
func childCaddyValidate(t *testing.T, config []byte) error {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, config, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := caddyCommand(t, "validate", "--config", path)
	cmd.Env = append(cmd.Env, childHome(dir)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// instance is one Caddy child process.
type instance struct {
	name  string
	base  string // http://127.0.0.1:port
	port  int
	dir   string
	ready string   // the URL that answers 200 once it is up
	args  []string // of `caddy` (caddyCommand)
	env   []string
	cmd   *exec.Cmd
	done  chan struct{}
	log   *bytes.Buffer
	mu    sync.Mutex
}

// childInstance writes caddyfile into a directory of its own and starts
// `caddy run` on it in a child process (caddyCommand), with HOME and the XDG
// directories there and env (KEY=value) added; it returns once ready
// answers 200. The child is killed when t ends (and by the kernel if this
// process dies: Pdeathsig); its output is logged if t failed.
func childInstance(t *testing.T, name, caddyfile, ready string, env ...string) *instance {
	t.Helper()
	in := &instance{name: name, ready: ready, dir: t.TempDir()}
	cfg := filepath.Join(in.dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	in.args = []string{"run", "--config", cfg, "--adapter", "caddyfile"}
	in.env = append(append(os.Environ(), childHome(in.dir)...), env...)
	in.start(t)
	t.Cleanup(in.kill)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child Caddy %s output:\n%s", name, in.logs())
		}
	})
	return in
}

// childHome points a child Caddy's home and XDG directories (autosave,
// storage) at dir.
func childHome(dir string) []string {
	return []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
}

func (in *instance) start(t *testing.T) {
	t.Helper()
	cmd := caddyCommand(t, in.args...)
	cmd.Env = append(in.env, asCaddyEnv+"=1")
	in.log = new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: in.log, mu: &in.mu}, &lockedWriter{w: in.log, mu: &in.mu}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	in.cmd, in.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(in.ready)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("instance %s exited:\n%s", in.name, in.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s did not come up:\n%s", in.name, in.logs())
		}
		time.Sleep(20 * time.Millisecond) // polling a child process
	}
}

// kill ends the process with SIGKILL (kill -9) and waits for it.
func (in *instance) kill() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
	in.cmd = nil
}

func (in *instance) logs() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.log.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
