package issuer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/authgate/caddy-authgate/token"
)

func TestClientCredentialsJWT(t *testing.T) {
	e := newEnv(t, nil)
	for _, mode := range []string{"basic", "form"} {
		t.Run(mode, func(t *testing.T) {
			f := url.Values{"grant_type": {GrantClientCredentials}, "scope": {"read write"}}
			var r resp
			if mode == "basic" {
				r = e.do("POST", "/oauth/token", f, "app", "app-secret")
			} else {
				f.Set("client_id", "app")
				f.Set("client_secret", "app-secret")
				r = e.do("POST", "/oauth/token", f, "", "")
			}
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Fatalf("missing no-store: %v", r.header)
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(3600) || r.body["scope"] != "read write" {
				t.Fatalf("body: %v", r.body)
			}
			if _, ok := r.body["issued_token_type"]; ok {
				t.Fatal("issued_token_type on a client_credentials response")
			}
			tok := r.body["access_token"].(string)
			hdr, cl := decodeJWT(t, tok)
			if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" || hdr["kid"] != e.iss.SigningKeyID() {
				t.Fatalf("header: %v", hdr)
			}
			now := e.clock.Now().Unix()
			if cl["iss"] != testIss || cl["sub"] != "app" || cl["client_id"] != "app" || cl["aud"] != testIss ||
				cl["scope"] != "read write" || cl["iat"] != float64(now) || cl["exp"] != float64(now+3600) || cl["jti"] == "" {
				t.Fatalf("claims: %v", cl)
			}
			// An independent verifier (jwx) accepts it against the published JWKS.
			jw := e.do("GET", PathJWKS, nil, "", "")
			set, err := jwk.Parse([]byte(jw.raw))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set)); err != nil {
				t.Fatalf("jwx verify: %v", err)
			}
		})
	}
}

func TestAllScopesByDefaultAndJTIUnique(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.token("app", "app-secret", nil), e.token("app", "app-secret", nil)
	_, ca := decodeJWT(t, a)
	_, cb := decodeJWT(t, b)
	if ca["scope"] != "read write admin" {
		t.Fatalf("scope %v", ca["scope"])
	}
	if ca["jti"] == cb["jti"] {
		t.Fatal("jti repeated")
	}
}

func TestTokenErrors(t *testing.T) {
	e := newEnv(t, nil)
	cc := func(kv ...string) url.Values {
		f := url.Values{"grant_type": {GrantClientCredentials}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name      string
		form      url.Values
		id, sec   string
		status    int
		code      string
		challenge bool
	}{
		{"wrong secret basic", cc(), "app", "nope", 401, errInvalidClient, true},
		{"wrong secret form", cc("client_id", "app", "client_secret", "nope"), "", "", 401, errInvalidClient, true},
		{"unknown client", cc(), "ghost", "app-secret", 401, errInvalidClient, true},
		{"disabled client", cc(), "off", "off-secret", 401, errInvalidClient, true},
		{"no auth", cc(), "", "", 401, errInvalidClient, true},
		{"id without secret", cc("client_id", "app"), "", "", 401, errInvalidClient, true},
		{"basic not allowed", cc(), "postonly", "p", 401, errInvalidClient, true},
		{"both methods", cc("client_secret", "app-secret"), "app", "app-secret", 400, errInvalidRequest, false},
		{"mismatched client_id", cc("client_id", "other"), "app", "app-secret", 400, errInvalidRequest, false},
		{"unknown scope", cc("scope", "read delete"), "app", "app-secret", 400, errInvalidScope, false},
		{"malformed scope", cc("scope", "re\"ad"), "app", "app-secret", 400, errInvalidScope, false},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, "app", "app-secret", 400, errUnsupportedGrantType, false},
		{"missing grant", url.Values{"scope": {"read"}}, "app", "app-secret", 400, errInvalidRequest, false},
		{"grant not allowed", url.Values{"grant_type": {GrantTokenExchange}}, "other", "other-secret", 400, errUnauthorizedClient, false},
		{"duplicate param", url.Values{"grant_type": {GrantClientCredentials, GrantClientCredentials}}, "app", "app-secret", 400, errInvalidRequest, false},
		{"audience not allowed", cc("audience", "https://elsewhere"), "app", "app-secret", 400, errInvalidTarget, false},
		{"ip not allowed", cc(), "lan", "lan-secret", 401, errInvalidClient, true},
	}
	e.ip = netip.MustParseAddr("192.0.2.7")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/oauth/token", tc.form, tc.id, tc.sec)
			wantOAuthError(t, r, tc.status, tc.code)
			if got := r.header.Get("WWW-Authenticate"); (got != "") != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want challenge=%v", got, tc.challenge)
			} else if tc.challenge && !strings.HasPrefix(got, `Basic realm="`+testIss+`"`) {
				t.Fatalf("challenge %q", got)
			}
		})
	}
}

func TestTokenRequestFraming(t *testing.T) {
	e := newEnv(t, nil)
	post := func(ct, body string) resp {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.SetBasicAuth("app", "app-secret")
		return e.serve(r)
	}
	wantOAuthError(t, post("application/json", `{"grant_type":"client_credentials"}`), 400, errInvalidRequest)
	wantOAuthError(t, post("", "grant_type=client_credentials"), 400, errInvalidRequest)
	wantOAuthError(t, post("application/x-www-form-urlencoded", "grant_type=%zz"), 400, errInvalidRequest)
	big := "grant_type=client_credentials&pad=" + strings.Repeat("a", MaxFormBytes)
	wantOAuthError(t, post("application/x-www-form-urlencoded", big), 413, errInvalidRequest)
	// Without a Content-Length, the cap applies while reading.
	r := httptest.NewRequest("POST", "/oauth/token", struct{ *strings.Reader }{strings.NewReader(big)})
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("app", "app-secret")
	wantOAuthError(t, e.serve(r), 413, errInvalidRequest)
	if r := post("application/x-www-form-urlencoded; charset=UTF-8", "grant_type=client_credentials"); r.status != 200 {
		t.Fatalf("charset param: %d %s", r.status, r.raw)
	}
	// Empty values count as omitted (RFC 6749 §3.1).
	if r := post("application/x-www-form-urlencoded", "grant_type=client_credentials&scope="); r.status != 200 {
		t.Fatalf("empty scope: %d %s", r.status, r.raw)
	}
}

func TestMethodsAndRouting(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PathPrefix = "/auth" })
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/auth/token", "POST"},
		{"PUT", "/auth/introspect", "POST"},
		{"GET", "/auth/token/verify", "POST"},
		{"DELETE", "/auth/revoke", "POST"},
		{"POST", PathJWKS, "GET, HEAD"},
		{"POST", PathASMetadata, "GET, HEAD"},
		{"PATCH", PathOIDCMetadata, "GET, HEAD"},
	} {
		r := e.do(tc.method, tc.path, nil, "", "")
		if r.status != 405 || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow=%q", tc.method, tc.path, r.status, r.header.Get("Allow"))
		}
	}
	for _, p := range []string{"/oauth/token", "/auth/tokens", "/", "/auth"} {
		if e.iss.Owns(p) {
			t.Errorf("owns %s", p)
		}
	}
	md := e.do("GET", PathOIDCMetadata, nil, "", "")
	md2 := e.do("GET", PathASMetadata, nil, "", "")
	if md.status != 200 || md.raw != md2.raw {
		t.Fatalf("metadata %d %s", md.status, md.raw)
	}
	want := map[string]any{
		"issuer":                 testIss,
		"token_endpoint":         testIss + "/auth/token",
		"introspection_endpoint": testIss + "/auth/introspect",
		"revocation_endpoint":    testIss + "/auth/revoke",
		"jwks_uri":               testIss + PathJWKS,
	}
	for k, v := range want {
		if md.body[k] != v {
			t.Errorf("metadata %s = %v, want %v", k, md.body[k], v)
		}
	}
	jw := e.do("GET", PathJWKS, nil, "", "")
	if jw.header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("jwks cache-control %q", jw.header.Get("Cache-Control"))
	}
}

func TestIntrospection(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("app", "app-secret", url.Values{"scope": {"read"}})
	in := e.introspect(tok, "app", "app-secret")
	if in["active"] != true || in["client_id"] != "app" || in["scope"] != "read" || in["sub"] != "app" ||
		in["iss"] != testIss || in["token_type"] != "Bearer" || in["aud"] != testIss || in["jti"] == nil {
		t.Fatalf("introspection: %v", in)
	}
	// The alias path answers the same.
	r := e.do("POST", "/oauth/token/verify", url.Values{"token": {tok}}, "app", "app-secret")
	if r.body["active"] != true || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("alias: %s", r.raw)
	}
	// Another client does not see it; garbage and tampered tokens are inactive.
	tampered := tok[:len(tok)-4] + "AAAA"
	for _, c := range []struct{ tok, id, sec string }{
		{tok, "other", "other-secret"},
		{"garbage", "app", "app-secret"},
		{tampered, "app", "app-secret"},
		{strings.Repeat("a", 43), "app", "app-secret"},
	} {
		if in := e.introspect(c.tok, c.id, c.sec); in["active"] != false || len(in) != 1 {
			t.Errorf("introspect %q as %s: %v", c.tok, c.id, in)
		}
	}
	// Unauthenticated introspection is refused.
	wantOAuthError(t, e.do("POST", "/oauth/introspect", url.Values{"token": {tok}}, "app", "bad"), 401, errInvalidClient)
	// Expired: inactive.
	e.clock.Advance(time.Hour)
	if in := e.introspect(tok, "app", "app-secret"); in["active"] != false {
		t.Fatalf("expired token active: %v", in)
	}
}

func TestRevocationJWT(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("app", "app-secret", nil)
	_, cl := decodeJWT(t, tok)
	claims := &token.Claims{Issuer: testIss, ClientID: "app", JTI: cl["jti"].(string), Scopes: []string{"read"}}
	if err := e.iss.Admit(claims, e.ip); err != nil {
		t.Fatalf("admit before revocation: %v", err)
	}
	// Another client's revocation is accepted with 200 and ignored.
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {tok}}, "other", "other-secret"); r.status != 200 {
		t.Fatalf("foreign revoke %d", r.status)
	}
	if e.introspect(tok, "app", "app-secret")["active"] != true {
		t.Fatal("another client revoked the token")
	}
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, "app", "app-secret"); r.status != 200 {
		t.Fatalf("revoke %d %s", r.status, r.raw)
	}
	if e.introspect(tok, "app", "app-secret")["active"] != false {
		t.Fatal("revoked token still active")
	}
	if err := e.iss.Admit(claims, e.ip); !errors.Is(err, ErrRevoked) {
		t.Fatalf("admit after revocation: %v", err)
	}
	// Unknown tokens: 200.
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {"nope"}}, "app", "app-secret"); r.status != 200 {
		t.Fatalf("unknown revoke %d", r.status)
	}
	// The revocation is durable: a new issuer on the same store refuses it.
	e2 := newEnvOn(t, e.store, e.clock, nil)
	if err := e2.iss.Admit(claims, e.ip); !errors.Is(err, ErrRevoked) {
		t.Fatalf("admit after restart: %v", err)
	}
}

func TestOpaqueTokens(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "opq", "opq-secret")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	tok := r.body["access_token"].(string)
	if strings.Contains(tok, ".") || len(tok) != 43 {
		t.Fatalf("opaque token %q", tok)
	}
	c, err := e.iss.LookupOpaque(context.Background(), tok)
	if err != nil || c.ClientID != "opq" || c.Subject != "opq" || !c.HasScope("read") || c.Issuer != testIss {
		t.Fatalf("lookup: %+v %v", c, err)
	}
	if err := e.iss.Admit(c, e.ip); err != nil {
		t.Fatal(err)
	}
	if in := e.introspect(tok, "opq", "opq-secret"); in["active"] != true || in["client_id"] != "opq" {
		t.Fatalf("introspect %v", in)
	}
	if _, err := e.iss.LookupOpaque(context.Background(), strings.Repeat("x", 43)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown opaque: %v", err)
	}
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {tok}}, "opq", "opq-secret"); r.status != 200 {
		t.Fatal(r.raw)
	}
	if _, err := e.iss.LookupOpaque(context.Background(), tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked opaque: %v", err)
	}
	if err := e.iss.Admit(c, e.ip); !errors.Is(err, ErrRevoked) {
		t.Fatalf("admit revoked opaque jti: %v", err)
	}
}

func TestTokenExchange(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients[0].Audience = []string{"api-a", "api-b"}
		c.Clients[0].AccessTokenTTL = 10 * time.Minute
	})
	subject := e.token("app", "app-secret", url.Values{"scope": {"read write"}})
	_, sc := decodeJWT(t, subject)
	e.clock.Advance(4 * time.Minute)
	x := func(id, sec string, kv ...string) resp {
		f := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {TokenTypeAccessToken}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return e.do("POST", "/oauth/token", f, id, sec)
	}
	r := x("app", "app-secret", "scope", "read", "audience", "api-b")
	if r.status != 200 || r.body["issued_token_type"] != TokenTypeAccessToken || r.body["scope"] != "read" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	_, nc := decodeJWT(t, r.body["access_token"].(string))
	if nc["aud"] != "api-b" || nc["scope"] != "read" || nc["sub"] != "app" || nc["exp"] != sc["exp"] || nc["jti"] == sc["jti"] {
		t.Fatalf("exchanged claims %v (subject %v)", nc, sc)
	}
	if r.body["expires_in"] != float64(6*60) {
		t.Fatalf("expires_in %v", r.body["expires_in"])
	}
	// Without scope: the subject's scopes, never the client's full set.
	r = x("app", "app-secret")
	if r.status != 200 || r.body["scope"] != "read write" {
		t.Fatalf("default exchange %s", r.raw)
	}
	// Widening is refused.
	wantOAuthError(t, x("app", "app-secret", "scope", "read admin"), 400, errInvalidScope)
	wantOAuthError(t, x("app", "app-secret", "audience", "api-c"), 400, errInvalidTarget)
	// The exchanged (narrowed) token cannot be widened back either.
	narrowed := e.token("app", "app-secret", url.Values{"scope": {"read"}})
	f := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {narrowed}, "subject_token_type": {TokenTypeAccessToken}, "scope": {"write"}}
	wantOAuthError(t, e.do("POST", "/oauth/token", f, "app", "app-secret"), 400, errInvalidScope)
	// Wrong or missing parameters.
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {subject}}, "app", "app-secret"), 400, errInvalidRequest)
	wantOAuthError(t, x("app", "app-secret", "actor_token", "x", "actor_token_type", TokenTypeAccessToken), 400, errInvalidRequest)
	// Garbage subject token.
	f = url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {"a.b.c"}, "subject_token_type": {TokenTypeAccessToken}}
	wantOAuthError(t, e.do("POST", "/oauth/token", f, "app", "app-secret"), 400, errInvalidRequest)
	// Another client's token: refused (opq may exchange, but not app's token).
	wantOAuthError(t, x("opq", "opq-secret"), 400, errInvalidRequest)
	// Revoked subject: refused.
	e.do("POST", "/oauth/revoke", url.Values{"token": {subject}}, "app", "app-secret")
	wantOAuthError(t, x("app", "app-secret"), 400, errInvalidRequest)
}

func TestOpaqueExchangeAndExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Clients[3].Scopes = []string{"read", "write"} })
	r := e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "opq", "opq-secret")
	subject := r.body["access_token"].(string)
	f := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {TokenTypeAccessToken}, "scope": {"write"}}
	r = e.do("POST", "/oauth/token", f, "opq", "opq-secret")
	if r.status != 200 || r.body["scope"] != "write" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	c, err := e.iss.LookupOpaque(context.Background(), r.body["access_token"].(string))
	if err != nil || len(c.Scopes) != 1 || c.Scopes[0] != "write" {
		t.Fatalf("%+v %v", c, err)
	}
	e.clock.Advance(time.Hour)
	wantOAuthError(t, e.do("POST", "/oauth/token", f, "opq", "opq-secret"), 400, errInvalidRequest)
}

func TestAdmit(t *testing.T) {
	e := newEnv(t, nil)
	inside, outside := netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("192.0.2.1")
	lan := &token.Claims{Issuer: testIss, ClientID: "lan", JTI: "j1"}
	if err := e.iss.Admit(lan, inside); err != nil {
		t.Fatal(err)
	}
	if err := e.iss.Admit(lan, outside); !errors.Is(err, ErrIPNotAllowed) {
		t.Fatalf("outside: %v", err)
	}
	if err := e.iss.Admit(lan, netip.MustParseAddr("::ffff:10.1.1.1")); err != nil {
		t.Fatalf("v4-mapped: %v", err)
	}
	for _, tc := range []struct {
		c    *token.Claims
		want error
	}{
		{&token.Claims{Issuer: testIss, ClientID: "off"}, ErrClientDisabled},
		{&token.Claims{Issuer: testIss, ClientID: "gone"}, ErrUnknownClient},
		{&token.Claims{Issuer: "https://other", ClientID: "app"}, ErrForeignToken},
		{&token.Claims{Issuer: testIss, ClientID: "other", Scopes: []string{"write"}}, ErrScopeWithdrawn},
		{nil, ErrForeignToken},
	} {
		if err := e.iss.Admit(tc.c, inside); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.c, err, tc.want)
		}
	}
	// Issuance from inside the filter works.
	e.ip = inside
	e.token("lan", "lan-secret", nil)
}

func TestSecretRotationAndHashes(t *testing.T) {
	clock := newClock()
	db := openStore(t, clock)
	e := newEnvOn(t, db, clock, func(c *Config) {
		c.Clients = append(c.Clients,
			ClientConfig{ID: "rot", Secrets: []SecretConfig{
				{Plain: "old", Expires: clock.Now().Add(time.Hour)},
				{Hash: HashSecret("new")},
			}},
			ClientConfig{ID: "bc", Secrets: []SecretConfig{{Hash: testBcrypt}}},
			ClientConfig{ID: "ar", Secrets: []SecretConfig{{Hash: testArgon2id}}},
		)
	})
	e.token("rot", "old", nil)
	e.token("rot", "new", nil)
	e.clock.Advance(time.Hour)
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "rot", "old"), 401, errInvalidClient)
	e.token("rot", "new", nil)
	for _, id := range []string{"bc", "ar"} {
		e.token(id, "s3cret-value", nil)
		e.token(id, "s3cret-value", nil) // cached
		wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, id, "s3cret-valuE"), 401, errInvalidClient)
	}
	if len(e.iss.slow.entries) != 2 {
		t.Fatalf("slow cache has %d entries, want 2 (successes only)", len(e.iss.slow.entries))
	}
}

func TestConfigErrors(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	db := openStore(t, clock)
	for name, mutate := range map[string]func(*Config){
		"no issuer":       func(c *Config) { c.Issuer = "" },
		"issuer query":    func(c *Config) { c.Issuer = "https://a/?x=1" },
		"bad alg":         func(c *Config) { c.SigningAlg = "none" },
		"bad prefix":      func(c *Config) { c.PathPrefix = "oauth/" },
		"short rotation":  func(c *Config) { c.KeyRotation = time.Second },
		"ttl too long":    func(c *Config) { c.AccessTokenTTL = MaxTTL + time.Second },
		"dup client":      func(c *Config) { c.Clients = append(c.Clients, c.Clients[0]) },
		"no secret":       func(c *Config) { c.Clients[0].Secrets = nil },
		"bad hash":        func(c *Config) { c.Clients[0].Secrets = []SecretConfig{{Hash: "md5:abc"}} },
		"both value/hash": func(c *Config) { c.Clients[0].Secrets = []SecretConfig{{Plain: "a", Hash: HashSecret("a")}} },
		"bad grant":       func(c *Config) { c.Clients[0].GrantTypes = []string{"password"} },
		"bad method":      func(c *Config) { c.Clients[0].AuthMethods = []string{"private_key_jwt"} },
		"bad format":      func(c *Config) { c.Clients[0].TokenFormat = "paseto" },
		"bad scope":       func(c *Config) { c.Clients[0].Scopes = []string{"a b"} },
		"bad ip":          func(c *Config) { c.Clients[0].AllowIP = []string{"not-an-ip"} },
	} {
		cfg := baseConfig()
		cfg.Store = db
		mutate(&cfg)
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Plain secrets are cleared from the config after New.
	cfg := baseConfig()
	cfg.Store = db
	if _, err := New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Clients[0].Secrets[0].Plain != "" {
		t.Fatal("plain secret kept in config")
	}
}

func TestServeHTTPNotFound(t *testing.T) {
	e := newEnv(t, nil)
	w := httptest.NewRecorder()
	e.iss.ServeHTTP(w, httptest.NewRequest("GET", "/other", nil))
	if w.Code != http.StatusNotFound {
		t.Fatal(w.Code)
	}
}
