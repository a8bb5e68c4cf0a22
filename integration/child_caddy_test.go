package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
// 127.0.0.1:adminPort). env (KEY=value) is added to the child's
// environment. The child is killed in t's cleanup (and by the kernel if
// this process dies: Pdeathsig); its output is logged if t failed.
func newChildCaddy(t *testing.T, adminPort int, env ...string) *childCaddy {
	t.Helper()
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	in := &instance{name: t.Name(), base: admin, ready: admin + "/config/", dir: t.TempDir()}
	cfg := filepath.Join(in.dir, "admin.caddyfile")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n}\n", adminPort), 0o600); err != nil {
		t.Fatal(err)
	}
	in.args = []string{"run", "--config", cfg, "--adapter", "caddyfile"}
	in.env = append(append(os.Environ(), "HOME="+in.dir, "XDG_DATA_HOME="+in.dir, "XDG_CONFIG_HOME="+in.dir), env...)
	in.start(t)
	t.Cleanup(in.kill)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child Caddy (admin %s) output:\n%s", admin, in.logs())
		}
	})
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
	cmd.Env = append(cmd.Env, "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}
