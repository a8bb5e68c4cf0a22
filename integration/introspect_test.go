package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/internal/testutil/oidcprovider"
)

// Remote introspection (issue 14) against two introspection endpoints we
// did not put in the gateway's process: panva's oidc-provider and our own
// issuer in another Caddy. Ports 9802-9809.
const (
	ispOIDCPort      = 9802
	ispGatewayPort   = 9803
	ispIssuerPort    = 9804
	ispIssuerGateway = 9805
	ispOrders        = "https://orders.example"
	ispSvcSecret     = "svc-secret-svc-secret-svc-secret-0001"
	ispGatewaySecret = "gateway-secret-gateway-secret-000001"
)

// ispGatewayCaddyfile is a gateway on port that introspects at endpoint as
// client "gateway" and requires the orders audience and scope; the upstream
// echoes the forwarded identity.
func ispGatewayCaddyfile(port int, endpoint, audience string) string {
	return fmt.Sprintf(`{
	admin localhost:2999
	skip_install_trust
	http_port %d
}
http://127.0.0.1:%d {
	authgate {
		introspect %s {
			client_id gateway
			client_secret {env.ISP_GATEWAY_SECRET}
			cache_ttl 30s
			negative_cache_ttl 5s
			timeout 2s
		}
		audience %s
		leeway 0s
		scope orders:read
		header X-Client client_id
	}
	respond "client {http.request.header.X-Client}"
}
`, port, port, endpoint, audience)
}

// ispToken gets a client_credentials token from tokenURL.
func ispToken(t *testing.T, tokenURL, id, secret string, form url.Values) string {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	r := issPost(t, jwClient(), tokenURL, form, id, secret)
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	if strings.Contains(tok, ".") {
		t.Fatalf("token %q is not opaque", tok)
	}
	return tok
}

// ispRevoker revokes a token of client svc at revokeURL (RFC 7009).
func ispRevoker(t *testing.T, revokeURL string) func(tok string) {
	return func(tok string) {
		t.Helper()
		r := issPost(t, jwClient(), revokeURL, url.Values{"token": {tok}}, "svc", ispSvcSecret)
		if r.status != http.StatusOK {
			t.Fatalf("revocation: %d %s", r.status, r.raw)
		}
	}
}

// ispConcurrent sends n requests of tok at once and returns the statuses.
func ispConcurrent(t *testing.T, u, tok string, n int) map[int]int {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	var mu sync.Mutex
	statuses := map[int]int{}
	testutil.Together(n, func() {
		r, err := jwGet(c, u, tok)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			statuses[-1]++
			return
		}
		statuses[r.status]++
	})
	return statuses
}

// ispScenario runs the must-show cases against one endpoint: active
// (identity forwarded, cached), wrong audience, inactive (revoked), expired,
// 1 000 concurrent requests of one new token -> one call at the endpoint,
// then the endpoint down -> 503 with Retry-After.
type ispScenario struct {
	gateway     string                  // the gateway's URL
	token       func(short bool) string // a fresh opaque token for the orders API (short: expires in ~2s)
	wrongAud    func() string           // a token for another audience
	revoke      func(tok string)        // revokes tok at the provider
	calls       func() int              // introspection calls the endpoint received
	stop        func()                  // takes the endpoint down
	wantClient  string                  // client_id the gateway forwards
	shortClient string                  // the same for short-lived tokens
}

func (s ispScenario) run(t *testing.T) {
	c := jwClient()
	ok := func(r jwResp, what string, client ...string) {
		t.Helper()
		want := "client " + s.wantClient
		if len(client) > 0 {
			want = "client " + client[0]
		}
		if r.status != http.StatusOK || r.body != want {
			t.Fatalf("%s: want 200 %q, got %d %q (WWW-Authenticate %q)", what, want, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}

	t.Log("active: allowed, identity forwarded, the second request answered from the cache")
	tok := s.token(false)
	before := s.calls()
	ok(jwMustGet(t, c, s.gateway, tok), "active")
	ok(jwMustGet(t, c, s.gateway, tok), "active again")
	if n := s.calls() - before; n != 1 {
		t.Fatalf("active token twice: %d introspection calls, want 1", n)
	}
	jwWantInvalidToken(t, jwMustGet(t, c, s.gateway, "not-a-token-anyone-issued"), "unknown token")

	t.Log("active for another audience: refused by the gateway's audience rule")
	jwWantInvalidToken(t, jwMustGet(t, c, s.gateway, s.wrongAud()), "wrong audience")

	t.Log("inactive: a revoked token is refused, and the refusal is cached")
	revoked := s.token(false)
	s.revoke(revoked)
	before = s.calls()
	for range 3 {
		jwWantInvalidToken(t, jwMustGet(t, c, s.gateway, revoked), "revoked")
	}
	if n := s.calls() - before; n != 1 {
		t.Fatalf("revoked token thrice: %d calls, want 1 (negative cache)", n)
	}

	t.Log("expired: allowed while valid, refused once exp passed (the cached verdict dies at exp)")
	short := s.token(true)
	ok(jwMustGet(t, c, s.gateway, short), "short-lived token while valid", s.shortClient)
	jwEventually(t, 15*time.Second, func() bool {
		return jwMustGet(t, c, s.gateway, short).status == http.StatusUnauthorized
	}, func() string { return "the expired token is still accepted" })

	t.Log("1 000 concurrent requests of one new token: one introspection call")
	hot := s.token(false)
	before = s.calls()
	statuses := ispConcurrent(t, s.gateway, hot, 1000)
	if statuses[http.StatusOK] != 1000 {
		t.Fatalf("statuses %v, want 1000 x 200", statuses)
	}
	jwEventually(t, 2*time.Second, func() bool { return s.calls()-before >= 1 }, func() string { return "no call counted" })
	if n := s.calls() - before; n != 1 {
		t.Fatalf("1000 concurrent requests of one token: %d introspection calls at the endpoint, want 1", n)
	}

	t.Log("endpoint down: a token not cached is refused with 503 + Retry-After; a cached one still passes until cache_ttl")
	fresh := s.token(false)
	s.stop()
	jwWant503(t, jwMustGet(t, c, s.gateway, fresh), "endpoint down")
	ok(jwMustGet(t, c, s.gateway, hot), "cached verdict while the endpoint is down")
}

func TestIntrospectOIDCProvider(t *testing.T) {
	t.Parallel()
	p := oidcprovider.Start(t, oidcprovider.Options{
		Port: ispOIDCPort,
		Clients: []map[string]any{
			{"client_id": "svc", "client_secret": ispSvcSecret, "grant_types": []string{"client_credentials"},
				"redirect_uris": []string{}, "response_types": []string{}, "scope": "orders:read"},
			{"client_id": "svc-short", "client_secret": ispSvcSecret, "grant_types": []string{"client_credentials"},
				"redirect_uris": []string{}, "response_types": []string{}, "scope": "orders:read"},
			{"client_id": "gateway", "client_secret": ispGatewaySecret, "grant_types": []string{},
				"redirect_uris": []string{}, "response_types": []string{}},
		},
		ResourceServers: map[string]map[string]any{
			ispOrders:                 {"scope": "orders:read", "accessTokenFormat": "opaque"},
			"https://billing.example": {"scope": "orders:read", "accessTokenFormat": "opaque"},
		},
		TTLByClient: map[string]map[string]int{"ClientCredentials": {"svc-short": 2}},
	})
	holdInProcessCaddy(t) // for the gateway
	setenvInProcess(t, "ISP_GATEWAY_SECRET", ispGatewaySecret)
	jwStart(t, ispGatewayCaddyfile(ispGatewayPort, p.Issuer()+"/token/introspection", ispOrders))

	tokenURL := p.Issuer() + "/token"
	token := func(client, resource string) string {
		return ispToken(t, tokenURL, client, ispSvcSecret, url.Values{"scope": {"orders:read"}, "resource": {resource}})
	}
	ispScenario{
		gateway: fmt.Sprintf("http://127.0.0.1:%d/orders", ispGatewayPort),
		token: func(short bool) string {
			if short {
				return token("svc-short", ispOrders)
			}
			return token("svc", ispOrders)
		},
		wrongAud:    func() string { return token("svc", "https://billing.example") },
		revoke:      ispRevoker(t, p.Issuer()+"/token/revocation"),
		calls:       func() int { return p.Requests(t, "/token/introspection") },
		stop:        p.Stop,
		wantClient:  "svc",
		shortClient: "svc-short",
	}.run(t)
}

// ispIssuerProcess is authgate_issuer in its own Caddy process (a child
// instance: admin off, its own bbolt file), with an access log that counts
// the calls each path received.
type ispIssuerProcess struct {
	*instance
	log string
}

func startIssuerProcess(t *testing.T) *ispIssuerProcess {
	t.Helper()
	dir := t.TempDir()
	p := &ispIssuerProcess{log: filepath.Join(dir, "access.log")}
	base := fmt.Sprintf("http://127.0.0.1:%d", ispIssuerPort)
	cfg := fmt.Sprintf(`{
	admin off
	persist_config off
	skip_install_trust
	http_port %[1]d
	storage file_system %[2]s/caddy
	authgate {
		storage bolt %[2]s/authgate.db
	}
}
%[3]s {
	log {
		output file %[4]s
		format json
	}
	authgate_issuer {
		issuer %[3]s
		client svc {
			secret %[5]s
			scopes orders:read
			audience %[6]s gateway
			token_format opaque
		}
		client svc-short {
			secret %[5]s
			scopes orders:read
			audience %[6]s gateway
			token_format opaque
			access_token_ttl 2s
		}
		client billing {
			secret %[5]s
			scopes orders:read
			audience https://billing.example gateway
			token_format opaque
		}
		client gateway {
			secret %[7]s
		}
	}
}
`, ispIssuerPort, dir, base, p.log, ispSvcSecret, ispOrders, ispGatewaySecret)
	p.instance = childInstance(t, "issuer", cfg, base+"/.well-known/oauth-authorization-server")
	return p
}

// requests counts the access-log entries for path.
func (p *ispIssuerProcess) requests(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(p.log)
	if err != nil {
		if os.IsNotExist(err) {
			return 0
		}
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		var entry struct {
			Request struct {
				URI string `json:"uri"`
			} `json:"request"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Request.URI == path {
			n++
		}
	}
	return n
}

// Our issuer in another Caddy, with opaque tokens (token_format opaque):
// the gateway knows nothing of it but its introspection URL.
func TestIntrospectAuthgateIssuer(t *testing.T) {
	t.Parallel()
	p := startIssuerProcess(t)
	holdInProcessCaddy(t) // for the gateway
	base := fmt.Sprintf("http://127.0.0.1:%d", ispIssuerPort)
	setenvInProcess(t, "ISP_GATEWAY_SECRET", ispGatewaySecret)
	jwStart(t, ispGatewayCaddyfile(ispIssuerGateway, base+"/oauth/introspect", ispOrders))

	token := func(client string) string {
		return ispToken(t, base+"/oauth/token", client, ispSvcSecret, url.Values{"scope": {"orders:read"}})
	}
	ispScenario{
		gateway: fmt.Sprintf("http://127.0.0.1:%d/orders", ispIssuerGateway),
		token: func(short bool) string {
			if short {
				return token("svc-short")
			}
			return token("svc")
		},
		wrongAud:    func() string { return token("billing") },
		revoke:      ispRevoker(t, base+"/oauth/revoke"),
		calls:       func() int { return p.requests(t, "/oauth/introspect") },
		stop:        p.kill,
		wantClient:  "svc",
		shortClient: "svc-short",
	}.run(t)
}
