// Package oidcprovider starts panva's oidc-provider (npm, 9.x), a real OpenID
// provider we did not write, for tests that need an external identity
// provider: discovery, JWKS, authorization code with its built-in login form,
// client_credentials, introspection (RFC 7662) and revocation (RFC 7009).
//
// Only _test.go files import it (internal/testutil's import test enforces it).
//
// # Setup
//
// The node side lives in ./node (provider.mjs, package.json and a committed
// package-lock.json). Install it once with
//
//	npm ci --prefix internal/testutil/oidcprovider/node
//
// Without node on PATH or without node_modules, Start skips the test with that
// command in the message; under CI=true it fails the test instead.
//
// # Use
//
//	p := oidcprovider.Start(t, oidcprovider.Options{
//		Port: 9800, // a fixed port from your test's range
//		Clients: []map[string]any{{
//			"client_id":     "gateway",
//			"client_secret": "a-long-enough-secret-for-the-tests",
//			"grant_types":   []string{"client_credentials"},
//			"redirect_uris": []string{}, "response_types": []string{},
//			"scope": "orders:read",
//		}},
//		Accounts: map[string]map[string]any{"alice": {"email": "alice@example.com", "groups": []string{"admins"}}},
//		Config:   map[string]any{"ttl": map[string]any{"AccessToken": 60, "ClientCredentials": 5}},
//	})
//	p.Issuer()                       // "http://127.0.0.1:9800"
//	p.Requests("/token/introspection") // calls that endpoint received so far
//
// Start returns once the discovery document answers; t.Cleanup (or Stop)
// ends the process. The provider listens on 127.0.0.1 only, so it runs inside a test
// network namespace.
//
// What the provider does:
//   - Clients are oidc-provider client metadata, as is (client_id,
//     client_secret, grant_types, redirect_uris, response_types,
//     token_endpoint_auth_method, scope, ...). Every scope a client names is
//     added to the provider's supported scopes.
//   - Sign-in is oidc-provider's devInteractions form: any username with any
//     password signs in, the username becomes the account id, then a consent
//     form follows. findAccount answers every id with Accounts[id] plus
//     sub = id; the scopes email, profile and groups release email,
//     email_verified, name, preferred_username and groups.
//   - Access tokens are opaque (no dots) unless a resource server says
//     otherwise: ResourceServers maps a resource indicator (RFC 8707) to
//     oidc-provider's resource server info ({"scope": ..., "audience": ...,
//     "accessTokenFormat": "jwt" or "opaque", "accessTokenTTL": seconds}).
//   - Config is deep-merged into the Provider configuration (plain objects
//     merge, everything else replaces), e.g. features, ttl (seconds, short
//     values are fine), pkce, clientDefaults. JSON only: no functions.
//   - TTLByClient gives some clients short-lived tokens (e.g. 2 s, to test
//     expiry) while the others keep the configured lifetimes.
//   - Paths are oidc-provider's defaults: /auth, /token, /token/introspection,
//     /token/revocation, /jwks, /me, /session/end.
package oidcprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// InstallHint is the command that installs the node side.
const InstallHint = "npm ci --prefix internal/testutil/oidcprovider/node"

// Options configure one provider process.
type Options struct {
	// Port on 127.0.0.1; required (tests bind fixed ports from their range).
	Port int
	// Clients: oidc-provider client metadata, one map per client.
	Clients []map[string]any
	// Accounts: extra claims per account id (the devInteractions username).
	Accounts map[string]map[string]any
	// ResourceServers: resource indicator -> oidc-provider resource server info.
	ResourceServers map[string]map[string]any
	// TTLByClient overrides token lifetimes (seconds) per client:
	// artifact ("AccessToken", "ClientCredentials", "RefreshToken", ...) ->
	// client_id -> seconds. Other clients keep Config's ttl or the default.
	TTLByClient map[string]map[string]int
	// Config is deep-merged into the Provider configuration.
	Config map[string]any
	// StartTimeout bounds the wait for discovery; 0 means 20 s.
	StartTimeout time.Duration
}

// Provider is a running oidc-provider process.
type Provider struct {
	issuer string
	cmd    *exec.Cmd
	out    *lockedBuffer
	stop   sync.Once
	exited chan struct{}
}

// Stop ends the process (SIGINT, then SIGKILL after 5 s) and waits for it,
// e.g. to test a relying party whose provider went down. t.Cleanup calls it
// too; calling it twice is harmless.
func (p *Provider) Stop() {
	p.stop.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// Issuer is the provider's issuer URL, http://127.0.0.1:<port>; discovery is
// at Issuer()+"/.well-known/openid-configuration".
func (p *Provider) Issuer() string { return p.issuer }

// Output is what the node process printed so far (warnings, server errors).
func (p *Provider) Output() string { return p.out.String() }

// Requests is the number of requests the provider received on path so far
// (e.g. "/token/introspection"), counted inside the provider.
func (p *Provider) Requests(t testing.TB, path string) int {
	t.Helper()
	resp, err := http.Get(p.issuer + "/__testutil/counts")
	if err != nil {
		t.Fatalf("oidcprovider: counts: %v", err)
	}
	defer resp.Body.Close()
	var counts map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatalf("oidcprovider: counts: %v", err)
	}
	return counts[path]
}

// NodeDir is the directory holding provider.mjs and node_modules.
func NodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

// Start launches the provider and waits until its discovery document answers.
// It skips the test (fails it under CI=true) when node or node_modules is
// missing, and stops the process on t.Cleanup.
func Start(t testing.TB, o Options) *Provider {
	t.Helper()
	testutil.SkipIfShort(t, "run node (oidc-provider)")
	if o.Port == 0 {
		t.Fatal("oidcprovider: Options.Port is required")
	}
	dir := NodeDir()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH (Debian: apt-get install nodejs npm), then "+InstallHint)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		missing(t, "oidc-provider is not installed: run "+InstallHint)
	}

	issuer := fmt.Sprintf("http://127.0.0.1:%d", o.Port)
	cfg := map[string]any{
		"port": o.Port, "issuer": issuer, "clients": nonNil(o.Clients),
		"accounts": o.Accounts, "resourceServers": o.ResourceServers, "config": o.Config,
		"ttlByClient": o.TTLByClient,
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("oidcprovider: config: %v", err)
	}
	cfgPath := filepath.Join(t.TempDir(), "oidc-provider.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	p := &Provider{issuer: issuer, out: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(node, filepath.Join(dir, "provider.mjs"), cfgPath)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("oidcprovider: start node: %v", err)
	}
	exited := p.exited
	go func() { _ = p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("oidc-provider output:\n%s", p.out.String())
		}
	})

	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-exited:
			t.Fatalf("oidcprovider: node exited before serving discovery:\n%s", p.out.String())
		default:
		}
		resp, err := client.Get(issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oidcprovider: discovery did not answer within %v (last error %v):\n%s", timeout, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a starting process, not waiting for a timer
	}
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("oidcprovider: %s", msg)
	}
	t.Skipf("oidcprovider: %s", msg)
}

func nonNil(c []map[string]any) []map[string]any {
	if c == nil {
		return []map[string]any{}
	}
	return c
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep memory bounded if the process is chatty
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
