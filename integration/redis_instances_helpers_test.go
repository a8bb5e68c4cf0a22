package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/handlers/issuer"
	"github.com/authgate/caddy-authgate/internal/testutil/redisserver"
)

// Ports of the multi-instance tests (this range 9850-9899; Redis
// itself on 6400-6449 via redisserver).
const (
	riPublic = "http://127.0.0.1:9850" // the issuer URL every instance shares, as behind a load balancer
	riFirst  = 9851                    // instance i: HTTP on riFirst+i, admin on riFirst+20+i
)

func riCaddyfile(port, admin int, redisAddr string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	skip_install_trust
	persist_config off
	authgate {
		storage redis redis://%s {
			prefix it:
			outage_grace 3s
		}
		encryption_key {env.AUTHGATE_KEK}
	}
}
http://:%d {
	authgate_issuer {
		issuer %s
		client app {
			secret {env.RI_SECRET}
			scopes read
		}
		client opq {
			secret {env.RI_SECRET}
			scopes read
			token_format opaque
			# the load below is not what this test limits (rate limits are per instance)
			rate_limit 1000000/1s
		}
	}
	route /api/* {
		authgate {
			issuer %s
			scope read
			header X-Client client_id
		}
		respond "ok client={http.request.header.X-Client}"
	}
}
`, admin, redisAddr, port, riPublic, riPublic)
}

func riKEK() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// startInstance starts Caddy number i on the Redis at redisAddr.
func startInstance(t *testing.T, i int, redisAddr, kek string) *instance {
	t.Helper()
	port := riFirst + i
	return launchInstance(t, string(rune('A'+i)), port, riCaddyfile(port, riFirst+20+i, redisAddr), kek)
}

// launchInstance starts a child Caddy on caddyfile, listening on port.
func launchInstance(t *testing.T, name string, port int, caddyfile, kek string) *instance {
	t.Helper()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	in := childInstance(t, name, caddyfile, base+"/.well-known/jwks.json", "AUTHGATE_KEK="+kek, "RI_SECRET=ri-secret")
	in.port, in.base = port, base
	return in
}

// riClient has short timeouts: a dead instance fails fast.
var riClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// token asks in for a client_credentials token of client id; it returns the
// status and the token (on 200) or the error code.
func (in *instance) token(ctx context.Context, id string) (int, string, error) {
	f := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequestWithContext(ctx, "POST", in.base+"/oauth/token", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, "ri-secret")
	status, body, err := riDo(req)
	if err != nil {
		return 0, "", err
	}
	if status == 200 {
		return status, jsonField(body, "access_token"), nil
	}
	return status, jsonField(body, "error"), nil
}

// api calls the gateway with tok and returns the status.
func (in *instance) api(tok string) int {
	req, _ := http.NewRequest("GET", in.base+"/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	status, _, err := riDo(req)
	if err != nil {
		return 0
	}
	return status
}

func (in *instance) revoke(t *testing.T, id, tok string) {
	t.Helper()
	f := url.Values{"token": {tok}}
	req, _ := http.NewRequest("POST", in.base+"/oauth/revoke", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, "ri-secret")
	if status, body, err := riDo(req); err != nil || status != 200 {
		t.Fatalf("revoke at %s: %d %s %v", in.name, status, body, err)
	}
}

func (in *instance) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", in.base+path, nil)
	status, body, err := riDo(req)
	if err != nil || status != 200 {
		t.Fatalf("GET %s at %s: %d %v", path, in.name, status, err)
	}
	return body
}

func riDo(req *http.Request) (int, string, error) {
	res, err := riClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func jsonField(body, field string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return ""
	}
	s, _ := m[field].(string)
	return s
}

// waitFor polls cond every 5ms until it holds or limit passes, and returns
// how long it took (or -1).
func waitFor(limit time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond) // polling other processes
	}
	if cond() {
		return time.Since(start)
	}
	return -1
}

// redisGlobals is the global options block of a child Caddy instance on
// Redis: its own admin port, the shared Redis under a key prefix, the KEK
// from the environment.
func redisGlobals(admin int, redisAddr, prefix string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	skip_install_trust
	persist_config off
	authgate {
		storage redis redis://%s {
			prefix %s
		}
		encryption_key {env.AUTHGATE_KEK}
	}
}
`, admin, redisAddr, prefix)
}

// launchAlicePair starts a Redis and two Caddy instances A and B on it
// (site ports first and first+1, admin ports +20), each from caddyfile with
// the password hash of user alice ("alice-password").
func launchAlicePair(t *testing.T, redis redisserver.Options, first int, caddyfile func(port, admin int, redisAddr, aliceHash string) string) (a, b *instance) {
	t.Helper()
	srv := redisserver.Start(t, redis)
	hash, err := issuer.HashPassword("alice-password")
	if err != nil {
		t.Fatal(err)
	}
	kek := riKEK()
	var ins [2]*instance
	for i := range ins {
		port := first + i
		ins[i] = launchInstance(t, string(rune('A'+i)), port, caddyfile(port, port+20, srv.Addr, hash), kek)
	}
	return ins[0], ins[1]
}
