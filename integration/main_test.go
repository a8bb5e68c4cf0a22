package integration

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// TestMain starts the in-process Caddy the way caddytest does (`caddy run`
// with an admin-only config on localhost:2999), but polls its admin endpoint
// every 10ms instead of sleeping a whole second before the first test.
// caddytest then finds it running and uses it.
//
// The tests run in parallel where they can (see useInProcessCaddy): the
// ones waiting for the in-process Caddy each hold a slot of -test.parallel,
// so unless it is given, it is raised from GOMAXPROCS to more than this
// package has tests, and the tests on child processes start at once.
//
// With asCaddyEnv set, the test binary is a Caddy instead: see caddyCommand.
func TestMain(m *testing.M) {
	if os.Getenv(asCaddyEnv) == "1" {
		os.Args = append([]string{"caddy"}, os.Args[1:]...)
		caddycmd.Main() // `caddy run` returns only through os.Exit
		return
	}
	flag.Parse() // before startCaddy replaces os.Args for `caddy run`
	// caddytest gives a config load 5 s. Provisioning an issuer that keeps
	// RS256 ID-token keys generates RSA-2048 keys, which took over 5 s under
	// -race with the package's other tests running beside it.
	caddytest.Default.LoadRequestTimeout = 60 * time.Second
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		if err := flag.Set("test.parallel", "128"); err != nil {
			fmt.Fprintln(os.Stderr, "integration:", err)
			os.Exit(1)
		}
	}
	cleanup, err := startCaddy()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	start := time.Now()
	code := m.Run()
	if testing.Verbose() {
		fmt.Printf("integration: %s in all; the tests that use the in-process Caddy held it for %s\n",
			time.Since(start).Round(time.Millisecond), inProcessHeld.Round(time.Millisecond))
	}
	cleanup()
	os.Exit(code)
}

// asCaddyEnv makes the test binary run caddycmd.Main (see caddyCommand).
const asCaddyEnv = "AUTHGATE_INTEGRATION_AS_CADDY"

// caddyCommand is `caddy <args>` as a separate process: this test binary
// itself, which in that mode runs caddycmd.Main with the modules it links,
// the same ones cmd/caddy links (Caddy's standard modules and authgate;
// this package registers none of its own). It costs no `go build` of
// cmd/caddy, whose link alone takes about 5 s of CPU.
func caddyCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	testutil.SkipIfShort(t, "start a child Caddy")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), asCaddyEnv+"=1")
	return cmd
}

func startCaddy() (func(), error) {
	const admin = "http://localhost:2999/config/"
	c := &http.Client{Timeout: time.Second}
	up := func() bool {
		res, err := c.Get(admin)
		if err != nil {
			return false
		}
		res.Body.Close()
		return true
	}
	if up() {
		return func() {}, nil // as caddytest would, use the one that is there
	}
	f, err := os.CreateTemp("", "authgate-integration-*.caddyfile")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.Remove(f.Name()) }
	if _, err := fmt.Fprint(f, "{\n\tadmin localhost:2999\n}\n"); err != nil {
		f.Close()
		cleanup()
		return nil, err
	}
	f.Close()
	os.Args = []string{"caddy", "run", "--config", f.Name(), "--adapter", "caddyfile"}
	go caddycmd.Main()
	for deadline := time.Now().Add(10 * time.Second); !up(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cleanup()
			return nil, fmt.Errorf("caddy's admin endpoint %s did not come up within 10s", admin)
		}
	}
	return cleanup, nil
}
