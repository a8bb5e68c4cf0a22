package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/authgate/caddy-authgate"
	"github.com/authgate/caddy-authgate/internal/testutil"
)

const (
	issBase         = "http://127.0.0.1:9201"
	issTokenURL     = issBase + "/oauth/token"
	issIntrospect   = issBase + "/oauth/introspect"
	issRevokeURL    = issBase + "/oauth/revoke"
	issJWKSURL      = issBase + "/.well-known/jwks.json"
	issTokenExGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
	issATType       = "urn:ietf:params:oauth:token-type:access_token"
)

// issCaddyfile returns a Caddyfile with an issuer on 127.0.0.1:9201 whose
// keys live in db; extra is inserted into the issuer block.
func issCaddyfile(db, extra string) string { return issCaddyfileOn(9201, db, extra) }

// issCaddyfileOn is issCaddyfile on 127.0.0.1:port (issuer URL included),
// for a test on a child Caddy, which must not share 9201 with the tests on
// the in-process one.
func issCaddyfileOn(port int, db, extra string) string {
	return boltGlobals(port, db) + fmt.Sprintf(`http://127.0.0.1:%d {
	authgate_issuer {
		issuer %s
		client app {
			secret {env.ISS_APP_SECRET}
			scopes read write admin
			grant_types client_credentials %s
		}
		client opq {
			secret_hash sha256:%s
			scopes read
			token_format opaque
		}
		client off {
			secret off-secret
			disabled
		}
		client lan {
			secret lan-secret
			allow_ip 10.0.0.0/8
		}
		%s
	}
	respond "upstream ok"
}
`, port, issBaseOn(port), issTokenExGrant, issSHA256Hex("opq-secret"), extra)
}

// issBaseOn is issBase for an issuer on 127.0.0.1:port.
func issBaseOn(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }

// issGatewayClients are the issuer's clients in the tests that put a
// gateway next to it (inside an authgate_issuer block).
const issGatewayClients = `		client app {
			secret app-secret
			scopes read write
		}
		client opq {
			secret opq-secret
			scopes read
			token_format opaque
		}
		client lan {
			secret lan-secret
			scopes read
			allow_ip 10.0.0.0/8
		}`

// issSHA256Hex is the hex SHA-256 of a test secret, for secret_hash.
func issSHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func issStart(t *testing.T, cfg string) *caddytest.Tester {
	t.Helper()
	setenvInProcess(t, "ISS_APP_SECRET", "app-secret")
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	return tester
}

// issStartChild is issStart on a child Caddy with its admin endpoint on
// 127.0.0.1:admin (see startChildCaddy); the tester is for its client.
func issStartChild(t *testing.T, admin int, cfg string) *caddytest.Tester {
	t.Helper()
	startChildCaddy(t, admin, cfg, "ISS_APP_SECRET=app-secret")
	return caddytest.NewTester(t)
}

type issResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func issPost(t *testing.T, c *http.Client, u string, form url.Values, id, secret string) issResp {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return issDo(t, c, req)
}

func issDo(t *testing.T, c *http.Client, req *http.Request) issResp {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := issResp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("not JSON: %q", raw)
		}
	}
	return out
}

func issToken(t *testing.T, c *http.Client, id, secret string, extra url.Values) string {
	t.Helper()
	return issTokenAt(t, c, issBase, id, secret, extra)
}

// issTokenAt is issToken from the issuer at base.
func issTokenAt(t *testing.T, c *http.Client, base, id, secret string, extra url.Values) string {
	t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		f[k] = v
	}
	r := issPost(t, c, base+"/oauth/token", f, id, secret)
	if r.status != 200 {
		t.Fatalf("token for %s: %d %s", id, r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("token response cache headers: %v", r.header)
	}
	return r.body["access_token"].(string)
}

func issActive(t *testing.T, c *http.Client, tok, id, secret string) bool {
	t.Helper()
	return issActiveAt(t, c, issBase, tok, id, secret)
}

// issActiveAt is issActive at the issuer at base.
func issActiveAt(t *testing.T, c *http.Client, base, tok, id, secret string) bool {
	t.Helper()
	r := issPost(t, c, base+"/oauth/introspect", url.Values{"token": {tok}}, id, secret)
	if r.status != 200 {
		t.Fatalf("introspect: %d %s", r.status, r.raw)
	}
	return r.body["active"] == true
}

func issWantError(t *testing.T, r issResp, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.raw)
	}
}

func issClaims(t *testing.T, tok string) (hdr, claims map[string]any) {
	t.Helper()
	return testutil.DecodeJWT(t, tok)
}

func issJWKSKids(t *testing.T, c *http.Client) []string {
	t.Helper()
	return issJWKSKidsAt(t, c, issBase)
}

// issJWKSKidsAt is issJWKSKids of the issuer at base.
func issJWKSKidsAt(t *testing.T, c *http.Client, base string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/.well-known/jwks.json", nil)
	r := issDo(t, c, req)
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.raw), &doc); err != nil {
		t.Fatalf("jwks: %v %q", err, r.raw)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func TestIssuerClientCredentialsEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStart(t, issCaddyfile(db, ""))
	c := tester.Client

	// Basic and form authentication.
	tok := issToken(t, c, "app", "app-secret", url.Values{"scope": {"read"}})
	hdr, cl := issClaims(t, tok)
	if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" || cl["iss"] != issBase || cl["sub"] != "app" || cl["scope"] != "read" {
		t.Fatalf("token: %v %v", hdr, cl)
	}
	r := issPost(t, c, issTokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"app-secret"}}, "", "")
	if r.status != 200 || r.body["scope"] != "read write admin" || r.body["expires_in"] != float64(3600) {
		t.Fatalf("form auth: %d %s", r.status, r.raw)
	}

	// Errors.
	cc := url.Values{"grant_type": {"client_credentials"}}
	r = issPost(t, c, issTokenURL, cc, "app", "wrong")
	issWantError(t, r, 401, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Fatalf("no Basic challenge: %v", r.header)
	}
	issWantError(t, issPost(t, c, issTokenURL, cc, "nobody", "app-secret"), 401, "invalid_client")
	issWantError(t, issPost(t, c, issTokenURL, cc, "off", "off-secret"), 401, "invalid_client")
	issWantError(t, issPost(t, c, issTokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {"delete"}}, "app", "app-secret"), 400, "invalid_scope")
	issWantError(t, issPost(t, c, issTokenURL, url.Values{"grant_type": {"password"}}, "app", "app-secret"), 400, "unsupported_grant_type")
	issWantError(t, issPost(t, c, issTokenURL, url.Values{"grant_type": {issTokenExGrant}}, "opq", "opq-secret"), 400, "unauthorized_client")
	issWantError(t, issPost(t, c, issTokenURL, url.Values{"grant_type": {"client_credentials"}, "client_secret": {"app-secret"}}, "app", "app-secret"), 400, "invalid_request")
	big := url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("x", 20000)}}
	issWantError(t, issPost(t, c, issTokenURL, big, "app", "app-secret"), 413, "invalid_request")
	// Per-client IP filter: the test client connects from 127.0.0.1.
	issWantError(t, issPost(t, c, issTokenURL, cc, "lan", "lan-secret"), 401, "invalid_client")
	// Wrong method.
	req, _ := http.NewRequest("GET", issTokenURL, nil)
	if r := issDo(t, c, req); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET token: %d %v", r.status, r.header)
	}
	// Other paths pass through to the next handler.
	tester.AssertGetResponse(issBase+"/anything", 200, "upstream ok")

	// Introspection and revocation.
	if !issActive(t, c, tok, "app", "app-secret") {
		t.Fatal("fresh token inactive")
	}
	if issActive(t, c, tok, "opq", "opq-secret") {
		t.Fatal("another client sees the token as active")
	}
	if issActive(t, c, "not-a-token", "app", "app-secret") {
		t.Fatal("garbage active")
	}
	if r := issPost(t, c, issRevokeURL, url.Values{"token": {tok}}, "opq", "opq-secret"); r.status != 200 {
		t.Fatalf("foreign revoke: %d", r.status)
	}
	if !issActive(t, c, tok, "app", "app-secret") {
		t.Fatal("another client revoked the token")
	}
	if r := issPost(t, c, issRevokeURL, url.Values{"token": {tok}}, "app", "app-secret"); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if issActive(t, c, tok, "app", "app-secret") {
		t.Fatal("revoked token still active")
	}

	// Opaque tokens.
	otok := issToken(t, c, "opq", "opq-secret", nil)
	if strings.Contains(otok, ".") || len(otok) < 43 {
		t.Fatalf("opaque token %q", otok)
	}
	r = issPost(t, c, issIntrospect, url.Values{"token": {otok}}, "opq", "opq-secret")
	if r.body["active"] != true || r.body["client_id"] != "opq" || r.body["scope"] != "read" {
		t.Fatalf("opaque introspection: %s", r.raw)
	}
	issPost(t, c, issRevokeURL, url.Values{"token": {otok}}, "opq", "opq-secret")
	if issActive(t, c, otok, "opq", "opq-secret") {
		t.Fatal("revoked opaque token active")
	}
}

func TestIssuerTokenExchangeEndToEnd(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStart(t, issCaddyfile(db, ""))
	c := tester.Client
	subject := issToken(t, c, "app", "app-secret", url.Values{"scope": {"read write"}})
	x := func(scope string) issResp {
		f := url.Values{"grant_type": {issTokenExGrant}, "subject_token": {subject}, "subject_token_type": {issATType}}
		if scope != "" {
			f.Set("scope", scope)
		}
		return issPost(t, c, issTokenURL, f, "app", "app-secret")
	}
	r := x("read")
	if r.status != 200 || r.body["scope"] != "read" || r.body["issued_token_type"] != issATType {
		t.Fatalf("narrowing: %d %s", r.status, r.raw)
	}
	_, sc := issClaims(t, subject)
	_, nc := issClaims(t, r.body["access_token"].(string))
	if nc["exp"].(float64) > sc["exp"].(float64) || nc["scope"] != "read" {
		t.Fatalf("narrowed claims %v vs %v", nc, sc)
	}
	issWantError(t, x("read admin"), 400, "invalid_scope")
	// The narrowed token cannot be widened back.
	f := url.Values{"grant_type": {issTokenExGrant}, "subject_token": {r.body["access_token"].(string)}, "subject_token_type": {issATType}, "scope": {"write"}}
	issWantError(t, issPost(t, c, issTokenURL, f, "app", "app-secret"), 400, "invalid_scope")
}

func TestIssuerSecretRotation(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2907), on 127.0.0.1:9211
	const base = "http://127.0.0.1:9211"
	db := filepath.Join(t.TempDir(), "a.db")
	child := newChildCaddy(t, 2907, "ISS_APP_SECRET=app-secret") // started before the clock below runs
	// 3s from now (RFC 3339 takes fractions of a second): loading the
	// config and two tokens take about 0.1 s, with -race; the margin is for a
	// loaded CI machine (the test runs beside others, off the critical path).
	expires := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	extra := fmt.Sprintf("client rot {\n\t\t\tsecret old-secret expires %s\n\t\t\tsecret new-secret\n\t\t}", expires)
	child.load(t, issCaddyfileOn(9211, db, extra))
	c := caddytest.NewTester(t).Client
	issTokenAt(t, c, base, "rot", "old-secret", nil)
	issTokenAt(t, c, base, "rot", "new-secret", nil)
	exp, _ := time.Parse(time.RFC3339, expires)
	// Poll for the old secret's end instead of sleeping past it.
	for {
		r := issPost(t, c, base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "rot", "old-secret")
		if r.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(exp.Add(10 * time.Second)) {
			t.Fatalf("the old secret still works 10s after its expiry %s: %d %s", expires, r.status, r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if time.Now().Before(exp) {
		t.Fatalf("the old secret stopped before its expiry %s", expires)
	}
	issWantError(t, issPost(t, c, base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "rot", "old-secret"), 401, "invalid_client")
	issTokenAt(t, c, base, "rot", "new-secret", nil)
}

func TestIssuerRestartKeepsKeysAndTokens(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStart(t, issCaddyfile(db, ""))
	c := tester.Client
	tok := issToken(t, c, "app", "app-secret", nil)
	otok := issToken(t, c, "opq", "opq-secret", nil)
	kids := issJWKSKids(t, c)
	if len(kids) != 1 {
		t.Fatalf("kids %v", kids)
	}
	// Unload every authgate handler, so the bbolt file is closed, then load
	// the issuer again against the same file.
	tester.InitServer(`{
	skip_install_trust
	admin localhost:2999
	http_port 9201
}
http://127.0.0.1:9201 {
	respond "nothing here"
}`, "caddyfile")
	tester.AssertGetResponse(issJWKSURL, 200, "nothing here")
	tester = issStart(t, issCaddyfile(db, ""))
	c = tester.Client
	if got := issJWKSKids(t, c); !slices.Equal(got, kids) {
		t.Fatalf("kids after restart %v, before %v", got, kids)
	}
	if !issActive(t, c, tok, "app", "app-secret") || !issActive(t, c, otok, "opq", "opq-secret") {
		t.Fatal("tokens issued before the restart are inactive")
	}
	hdr, _ := issClaims(t, issToken(t, c, "app", "app-secret", nil))
	if hdr["kid"] != kids[0] {
		t.Fatalf("new kid %v after restart", hdr["kid"])
	}
}

func TestIssuerKeyRotationOverlap(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2908), on 127.0.0.1:9212
	const base = "http://127.0.0.1:9212"
	db := filepath.Join(t.TempDir(), "a.db")
	tester := issStartChild(t, 2908, issCaddyfileOn(9212, db, "key_rotation 2s"))
	c := tester.Client
	old := issTokenAt(t, c, base, "app", "app-secret", nil)
	hdr, _ := issClaims(t, old)
	k1 := hdr["kid"].(string)
	req, _ := http.NewRequest("GET", base+"/.well-known/jwks.json", nil)
	if r := issDo(t, c, req); r.header.Get("Cache-Control") != "public, max-age=1" {
		t.Fatalf("JWKS Cache-Control %q", r.header.Get("Cache-Control"))
	}
	deadline := time.Now().Add(6 * time.Second)
	for {
		tok := issTokenAt(t, c, base, "app", "app-secret", nil)
		h, _ := issClaims(t, tok)
		if h["kid"] != k1 {
			kids := issJWKSKidsAt(t, c, base)
			if !slices.Contains(kids, k1) || !slices.Contains(kids, h["kid"].(string)) {
				t.Fatalf("JWKS during overlap %v (old %s, new %s)", kids, k1, h["kid"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation within 6s; kids %v", issJWKSKidsAt(t, c, base))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !issActiveAt(t, c, base, old, "app", "app-secret") {
		t.Fatal("token of the retired key inactive")
	}
}

// TestIssuerWithGateway: an `authgate` gateway in the same Caddy trusts the
// issuer in-process: JWTs are accepted with claims forwarded as headers,
// revocation takes effect at once, opaque tokens resolve, and the client's
// IP filter applies at the gateway (client address from X-Forwarded-For via
// trusted_proxies).
func TestIssuerWithGateway(t *testing.T) {
	useInProcessCaddy(t)
	db := filepath.Join(t.TempDir(), "a.db")
	cfg := boltGlobals(9201, db, trustLoopbackProxy) + fmt.Sprintf(`http://127.0.0.1:9201 {
	authgate_issuer {
		issuer %s
%s
	}
	route /api/* {
		authgate {
			issuer %s
			scope read
			header X-Client client_id
			header X-Sub sub
		}
		respond "client={http.request.header.X-Client} sub={http.request.header.X-Sub}"
	}
	respond "public"
}
`, issBase, issGatewayClients, issBase)
	setenvInProcess(t, "ISS_APP_SECRET", "app-secret")
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	c := tester.Client
	api := func(tok, xff string) issResp {
		req, _ := http.NewRequest("GET", issBase+"/api/orders", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		req.Header.Set("X-Client", "forged")
		return issDo(t, c, req)
	}
	if r := api("", ""); r.status != 401 {
		t.Fatalf("no token: %d %s", r.status, r.raw)
	}
	tok := issToken(t, c, "app", "app-secret", nil)
	if r := api(tok, ""); r.status != 200 || r.raw != "client=app sub=app" {
		t.Fatalf("JWT at the gateway: %d %q", r.status, r.raw)
	}
	issPost(t, c, issRevokeURL, url.Values{"token": {tok}}, "app", "app-secret")
	if r := api(tok, ""); r.status == 200 {
		t.Fatalf("revoked token accepted: %q", r.raw)
	}
	otok := issToken(t, c, "opq", "opq-secret", nil)
	if r := api(otok, ""); r.status != 200 {
		t.Fatalf("opaque token at the gateway: %d %q", r.status, r.raw)
	}
	// IP filter: issuance and use only from 10.0.0.0/8.
	f := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", issTokenURL, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	req.SetBasicAuth("lan", "lan-secret")
	r := issDo(t, c, req)
	if r.status != 200 {
		t.Fatalf("lan token from an allowed address: %d %s", r.status, r.raw)
	}
	ltok := r.body["access_token"].(string)
	if r := api(ltok, "10.1.2.3"); r.status != 200 {
		t.Fatalf("lan token from inside: %d %q", r.status, r.raw)
	}
	if r := api(ltok, "192.0.2.1"); r.status == 200 {
		t.Fatalf("lan token accepted from outside its filter: %q", r.raw)
	}
	issWantError(t, issPost(t, c, issTokenURL, f, "lan", "lan-secret"), 401, "invalid_client")
}
