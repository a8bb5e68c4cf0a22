package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// gwUpstream is a real HTTP upstream that records the headers of every
// request it receives.
type gwUpstream struct {
	*httptest.Server
	headerLog
}

func gwNewUpstream(t *testing.T) *gwUpstream {
	u := &gwUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.Close)
	return u
}

// gwSigner holds an ES256 key whose public half is written as a PEM file.
type gwSigner struct {
	priv    *ecdsa.PrivateKey
	pemPath string
}

func gwNewSigner(t *testing.T) *gwSigner {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	path := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &gwSigner{priv: priv, pemPath: path}
}

func (s *gwSigner) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	base := map[string]any{
		"iss": "https://idp.test", "sub": "alice", "aud": "orders-api",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		"scope": "orders:read", "email": "alice@example.com",
		"realm_access": map[string]any{"roles": []string{"admin", "dev"}},
	}
	for k, v := range claims {
		base[k] = v
	}
	return testutil.MustSignJWT(t, s.priv, map[string]string{"alg": "ES256", "typ": "JWT"}, base)
}

func gwDo(t *testing.T, tester *caddytest.Tester, method, url string, headers map[string][]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestGatewayForwardsExactlyTheConfiguredIdentity(t *testing.T) {
	useInProcessCaddy(t)
	up := gwNewUpstream(t)
	signer := gwNewSigner(t)
	tester := caddytest.NewTester(t)
	tester.InitServer(fmt.Sprintf(`
{
	admin localhost:2999
	skip_install_trust
	auto_https off
	http_port 9400
}
http://127.0.0.1:9401 {
	authgate {
		key %s
		issuer https://idp.test
		audience orders-api
		scope orders:read
		header X-User sub
		header X-Email email
		header X-Roles realm_access.roles
		strip_token
		optional
	}
	reverse_proxy %s {
		header_up X-Auth-Id {http.auth.user.id}
		header_up X-Auth-Email {http.auth.user.email}
	}
	handle_errors {
		header Content-Type application/json
		respond `+"`"+`{"error":"{err.status_code}","detail":"{err.message}"}`+"`"+`
	}
}`, signer.pemPath, up.URL), "caddyfile")

	forged := map[string][]string{
		"X-User": {"root"}, "x-user": {"root2"}, "X-Email": {"root@evil"}, "X-Roles": {"superuser"},
	}
	with := func(tok string) map[string][]string {
		h := map[string][]string{}
		for k, v := range forged {
			h[k] = v
		}
		if tok != "" {
			h["Authorization"] = []string{"Bearer " + tok}
		}
		return h
	}

	// Valid token: the upstream sees exactly the identity from the token.
	resp, body := gwDo(t, tester, "GET", "http://127.0.0.1:9401/orders", with(signer.token(t, nil)))
	if resp.StatusCode != 200 || body != "upstream ok" {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	h := up.last(t)
	want := map[string]string{"X-User": "alice", "X-Email": "alice@example.com", "X-Roles": "admin,dev", "X-Auth-Id": "alice", "X-Auth-Email": "alice@example.com"}
	for name, v := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s = %q, want exactly [%q]", name, got, v)
		}
	}
	if h.Get("Authorization") != "" {
		t.Error("strip_token: the upstream saw the token")
	}

	// A token without the email claim: the forged X-Email must not survive.
	gwDo(t, tester, "GET", "http://127.0.0.1:9401/orders", with(signer.token(t, map[string]any{"email": nil})))
	if got := up.last(t).Values("X-Email"); len(got) != 0 {
		t.Errorf("client-supplied X-Email reached the upstream: %q", got)
	}

	// Anonymous (optional): forwarded, but with no identity at all.
	resp, _ = gwDo(t, tester, "GET", "http://127.0.0.1:9401/orders", with(""))
	if resp.StatusCode != 200 {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
	for name := range want {
		if got := up.last(t).Values(name); len(got) != 0 && !(strings.HasPrefix(name, "X-Auth") && got[0] == "") {
			t.Errorf("anonymous request: upstream saw %s = %q", name, got)
		}
	}

	// Bad token: refused through handle_errors, the upstream is not called.
	before := up.count()
	resp, body = gwDo(t, tester, "GET", "http://127.0.0.1:9401/orders", with(signer.token(t, nil)+"x"))
	if resp.StatusCode != 401 {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="127.0.0.1", error="invalid_token", error_description=`) {
		t.Errorf("challenge = %q", got)
	}
	if !strings.Contains(body, `"error":"401"`) {
		t.Errorf("handle_errors did not render: %s", body)
	}
	// Expired and wrong-scope tokens.
	resp, _ = gwDo(t, tester, "GET", "http://127.0.0.1:9401/orders", with(signer.token(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})))
	if resp.StatusCode != 401 {
		t.Errorf("expired token: %d", resp.StatusCode)
	}
	resp, _ = gwDo(t, tester, "GET", "http://127.0.0.1:9401/orders", with(signer.token(t, map[string]any{"scope": "billing:read"})))
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("missing scope: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if up.count() != before {
		t.Errorf("refused requests reached the upstream")
	}
}

func TestGatewayIPFilterUsesTrustedProxies(t *testing.T) {
	useInProcessCaddy(t)
	up := gwNewUpstream(t)
	signer := gwNewSigner(t)
	tester := caddytest.NewTester(t)
	site := func(port int, trusted string) string {
		return fmt.Sprintf(`
http://127.0.0.1:%d {
	bind 127.0.0.1
	authgate {
		key %s
		deny_ip 203.0.113.0/24 198.51.100.7-198.51.100.9
	}
	reverse_proxy %s
}`, port, signer.pemPath, up.URL)
	}
	tester.InitServer(fmt.Sprintf(`
{
	admin localhost:2999
	skip_install_trust
	auto_https off
	http_port 9410
	servers 127.0.0.1:9411 {
		trusted_proxies static 127.0.0.1/32
	}
	servers 127.0.0.1:9412 {
		trusted_proxies static 10.0.0.0/8
	}
}
%s
%s`, site(9411, "127.0.0.1/32"), site(9412, "10.0.0.0/8")), "caddyfile")

	tok := signer.token(t, nil)
	cases := []struct {
		port int
		xff  string
		want int
	}{
		{9411, "203.0.113.7", 403},  // trusted proxy: the forwarded address is used
		{9411, "198.51.100.8", 403}, // inside a range entry
		{9411, "192.0.2.1", 200},
		{9412, "203.0.113.7", 200}, // untrusted peer: X-Forwarded-For ignored
	}
	for _, tc := range cases {
		resp, _ := gwDo(t, tester, "GET", fmt.Sprintf("http://127.0.0.1:%d/", tc.port), map[string][]string{
			"Authorization": {"Bearer " + tok}, "X-Forwarded-For": {tc.xff},
		})
		if resp.StatusCode != tc.want {
			t.Errorf("port %d XFF %s: %d, want %d", tc.port, tc.xff, resp.StatusCode, tc.want)
		}
		if tc.want == 403 && resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("IP refusal carries a bearer challenge")
		}
	}
}

// TestGatewayHMACSecretFromEnvAndMetrics: hmac_secret resolves {env.*} at
// start, and the gateway's counters reach Caddy's metrics endpoint.
func TestGatewayHMACSecretFromEnvAndMetrics(t *testing.T) {
	useInProcessCaddy(t)
	secret := strings.Repeat("s3cr3t-", 6)
	setenvInProcess(t, "AUTHGATE_TEST_HMAC", secret)
	tester := caddytest.NewTester(t)
	tester.InitServer(`
{
	admin localhost:2999
	skip_install_trust
	auto_https off
	http_port 9420
}
http://127.0.0.1:9421 {
	handle /metrics {
		metrics
	}
	handle {
		authgate {
			hmac_secret {env.AUTHGATE_TEST_HMAC}
			header X-User sub
		}
		respond "hi {http.auth.user.id}"
	}
}`, "caddyfile")

	hdr, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	body, _ := json.Marshal(map[string]any{"sub": "svc-7", "exp": time.Now().Add(time.Hour).Unix()})
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := jwsbb.Sign([]byte(secret), "HS256", []byte(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := input + "." + base64.RawURLEncoding.EncodeToString(sig)

	for i := 0; i < 3; i++ {
		resp, got := gwDo(t, tester, "GET", "http://127.0.0.1:9421/x", map[string][]string{"Authorization": {"Bearer " + tok}})
		if resp.StatusCode != 200 || got != "hi svc-7" {
			t.Fatalf("HS256 token with the env secret: %d %q", resp.StatusCode, got)
		}
	}
	gwDo(t, tester, "GET", "http://127.0.0.1:9421/x", nil)

	_, metrics := gwDo(t, tester, "GET", "http://127.0.0.1:9421/metrics", nil)
	for _, want := range []string{
		`authgate_requests_total{reason="token",result="allowed"}`,
		`authgate_requests_total{reason="no_token",result="refused"}`,
		`authgate_token_cache_total{result="hit"}`,
		`authgate_verify_duration_seconds_count`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
