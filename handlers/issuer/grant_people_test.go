package issuer

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// admit is what an in-process gateway asks of a token.
func (e *testEnv) admit(tok string) error {
	e.t.Helper()
	info, err := e.iss.resolve(context.Background(), tok)
	if err != nil {
		return err
	}
	return e.iss.Admit(info.claims(testIss), e.ip)
}

func (e *testEnv) mustExchange(client, code string) resp {
	e.t.Helper()
	redirect := map[string]string{"web": "https://app.example/cb", "mobile": "http://127.0.0.1/cb"}[client]
	r := e.exchange(client, code, tokensVerifier, redirect)
	if r.status != 200 {
		e.t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	return r
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestCodeExchange(t *testing.T) {
	e := peopleEnv(t, nil)
	code := e.putCode(codeOpts{nonce: "n-0S6_WzA2Mj", sid: "sess-1"})
	r := e.mustExchange("web", code)
	at, rt, idt := str(r.body, "access_token"), str(r.body, "refresh_token"), str(r.body, "id_token")
	if at == "" || len(rt) != 43 || idt == "" || str(r.body, "scope") != "openid profile email read" || r.body["token_type"] != "Bearer" {
		t.Fatalf("response: %s", r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("token response without no-store")
	}
	_, ac := decodeJWT(t, at)
	if ac["sub"] != "alice" || ac["client_id"] != "web" || ac["auth_time"] == nil {
		t.Fatalf("access token claims: %v", ac)
	}
	hdr, ic := decodeJWT(t, idt)
	if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] == nil {
		t.Fatalf("ID token header: %v", hdr)
	}
	now := float64(e.clock.Now().Unix())
	want := map[string]any{"iss": testIss, "sub": "alice", "aud": "web", "azp": "web", "nonce": "n-0S6_WzA2Mj", "sid": "sess-1",
		"email": "alice@example.com", "email_verified": true, "name": "Alice Example", "iat": now, "exp": now + 3600,
		"auth_time": now - 60, "at_hash": atHash("RS256", at)}
	for k, v := range want {
		if ic[k] != v {
			t.Errorf("ID token %s = %v, want %v", k, ic[k], v)
		}
	}
	for _, k := range []string{"client_id", "jti", "groups", "scope"} {
		if _, ok := ic[k]; ok {
			t.Errorf("ID token carries %s", k)
		}
	}
	// The ID token verifies with a key of the published JWKS.
	jwks := e.do("GET", PathJWKS, nil, "", "")
	if !strings.Contains(jwks.raw, `"`+hdr["kid"].(string)+`"`) || !strings.Contains(jwks.raw, `"ES256"`) {
		t.Fatalf("JWKS lacks the ID-token key or the signing key: %s", jwks.raw)
	}
	keys, _, err := token.ParseJWKS([]byte(jwks.raw), "test")
	if err != nil {
		t.Fatal(err)
	}
	ks := token.NewKeySet(keys...)
	pol := token.Policy{Issuers: []string{testIss}, Audiences: []string{"web"}}
	if _, err := token.VerifySignature(context.Background(), idt, &pol, func(string) (token.KeyResolver, error) { return ks, nil }); err != nil {
		t.Fatalf("ID token does not verify with the JWKS: %v", err)
	}
	// It is no access token: an in-process gateway does not even verify it.
	if err := e.admit(idt); err == nil {
		t.Fatal("an ID token admitted as an access token")
	}
	// Introspection names the user.
	in := e.introspect(at, "web", "web-secret")
	if in["active"] != true || in["sub"] != "alice" || in["username"] != "alice" {
		t.Fatalf("introspection: %v", in)
	}
	if err := e.admit(at); err != nil {
		t.Fatalf("admit: %v", err)
	}
	// Userinfo answers the user's claims by scope.
	req := httptest.NewRequest("GET", "/oauth/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	ui := e.serve(req)
	if ui.status != 200 || ui.body["sub"] != "alice" || ui.body["email"] != "alice@example.com" || ui.body["name"] != "Alice Example" || ui.body["groups"] != nil {
		t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
	}
}

func TestCodeReplayRevokesItsTokens(t *testing.T) {
	e := peopleEnv(t, nil)
	code := e.putCode(codeOpts{})
	r := e.mustExchange("web", code)
	at, rt := str(r.body, "access_token"), str(r.body, "refresh_token")
	again := e.exchange("web", code, tokensVerifier, "https://app.example/cb")
	wantOAuthError(t, again, 400, errInvalidGrant)
	if err := e.admit(at); !errors.Is(err, ErrRevoked) {
		t.Fatalf("access token of a replayed code: %v", err)
	}
	wantOAuthError(t, e.refresh("web", rt, nil), 400, errInvalidGrant)
	if in := e.introspect(at, "web", "web-secret"); in["active"] != false {
		t.Fatalf("introspection after replay: %v", in)
	}
}

func TestCodeChecks(t *testing.T) {
	e := peopleEnv(t, nil)
	redirect := "https://app.example/cb"
	for name, tc := range map[string]struct {
		opts               codeOpts
		client             string
		code               func(string) string
		verifier, redirect string
		status             int
		want               string
	}{
		"wrong verifier":    {verifier: strings.Repeat("a", 43), status: 400, want: errInvalidGrant},
		"missing verifier":  {verifier: "-", status: 400, want: errInvalidRequest},
		"short verifier":    {verifier: "abc", status: 400, want: errInvalidRequest},
		"verifier bad char": {verifier: strings.Repeat("a", 42) + "+", status: 400, want: errInvalidRequest},
		// A code whose challenge is the verifier itself (method plain) never
		// matches: only S256 is computed.
		"plain challenge":      {opts: codeOpts{challenge: tokensVerifier}, status: 400, want: errInvalidGrant},
		"wrong redirect":       {redirect: "https://app.example/cb2", status: 400, want: errInvalidGrant},
		"missing redirect":     {redirect: "-", status: 400, want: errInvalidGrant},
		"other client":         {opts: codeOpts{client: "mobile"}, client: "web", status: 400, want: errInvalidGrant},
		"unknown code":         {code: func(string) string { return strings.Repeat("A", 43) }, status: 400, want: errInvalidGrant},
		"malformed code":       {code: func(c string) string { return c + "=" }, status: 400, want: errInvalidGrant},
		"huge code":            {code: func(string) string { return strings.Repeat("A", 4000) }, status: 400, want: errInvalidGrant},
		"missing code":         {code: func(string) string { return "" }, status: 400, want: errInvalidRequest},
		"disabled user":        {opts: codeOpts{user: "carol"}, status: 400, want: errInvalidGrant},
		"unknown user":         {opts: codeOpts{user: "mallory"}, status: 400, want: errInvalidGrant},
		"without challenge":    {opts: codeOpts{challenge: "-"}, status: 400, want: errInvalidGrant},
		"client without grant": {client: "app", status: 400, want: errUnauthorizedClient},
	} {
		t.Run(name, func(t *testing.T) {
			o := tc.opts
			if o.challenge == "-" {
				o.challenge = ""
			}
			code := e.putCode(o)
			if o.challenge == "" && tc.opts.challenge == "-" {
				// putCode filled the default; store one without.
				rec, _, _ := e.store.RedeemCode(context.Background(), codeHash(code))
				code, _ = randomToken()
				rec.Hash, rec.CodeChallenge, rec.Redeemed = codeHash(code), "", false
				if err := e.store.PutCode(context.Background(), rec); err != nil {
					t.Fatal(err)
				}
			}
			if tc.code != nil {
				code = tc.code(code)
			}
			v, rd, cl := tc.verifier, tc.redirect, tc.client
			if v == "" {
				v = tokensVerifier
			} else if v == "-" {
				v = ""
			}
			if rd == "" {
				rd = redirect
			} else if rd == "-" {
				rd = ""
			}
			if cl == "" {
				cl = "web"
			}
			f := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {v}, "redirect_uri": {rd}}
			var r resp
			if cl == "app" {
				r = e.do("POST", "/oauth/token", f, "app", "app-secret")
			} else {
				r = e.asClient(cl, f)
			}
			wantOAuthError(t, r, tc.status, tc.want)
		})
	}
}

func TestCodeExpiresAfter60s(t *testing.T) {
	e := peopleEnv(t, nil)
	code := e.putCode(codeOpts{})
	e.clock.Advance(60 * time.Second)
	wantOAuthError(t, e.exchange("web", code, tokensVerifier, "https://app.example/cb"), 400, errInvalidGrant)
	code = e.putCode(codeOpts{})
	e.clock.Advance(59 * time.Second)
	e.mustExchange("web", code)
}

// TestCodeConcurrentRedemption: 50 redemptions of one code at once, one
// succeeds (and the replays revoke what it issued).
func TestCodeConcurrentRedemption(t *testing.T) {
	e := peopleEnv(t, nil)
	code := e.putCode(codeOpts{})
	winner := race50(t, func() resp { return e.exchange("web", code, tokensVerifier, "https://app.example/cb") })
	if err := e.admit(str(winner.body, "access_token")); !errors.Is(err, ErrRevoked) {
		t.Fatalf("the winner's token after 49 replays: %v", err)
	}
	if rt := str(winner.body, "refresh_token"); rt != "" {
		wantOAuthError(t, e.refresh("web", rt, nil), 400, errInvalidGrant)
	}
}

func TestPublicClient(t *testing.T) {
	e := peopleEnv(t, nil)
	code := e.putCode(codeOpts{client: "mobile", scopes: []string{"openid", "read"}})
	r := e.mustExchange("mobile", code)
	if str(r.body, "refresh_token") == "" || str(r.body, "id_token") == "" {
		t.Fatalf("public client exchange: %s", r.raw)
	}
	// A confidential client cannot authenticate with client_id alone.
	code = e.putCode(codeOpts{})
	f := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {tokensVerifier},
		"redirect_uri": {"https://app.example/cb"}, "client_id": {"web"}}
	wantOAuthError(t, e.do("POST", "/oauth/token", f, "", ""), 401, errInvalidClient)
	// Nor does an unknown one.
	f.Set("client_id", "nobody")
	wantOAuthError(t, e.do("POST", "/oauth/token", f, "", ""), 401, errInvalidClient)
	// A public client never gets client_credentials.
	wantOAuthError(t, e.asClient("mobile", url.Values{"grant_type": {GrantClientCredentials}}), 400, errUnauthorizedClient)
	// Nor introspects.
	wantOAuthError(t, e.do("POST", "/oauth/introspect", url.Values{"token": {str(r.body, "access_token")}, "client_id": {"mobile"}}, "", ""), 400, errUnauthorizedClient)
	// The implicit grant is never served by the token endpoint.
	wantOAuthError(t, e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantImplicit}}, "web", "web-secret"), 400, errUnsupportedGrantType)
}

func TestRefreshRotates(t *testing.T) {
	e := peopleEnv(t, nil)
	r := e.mustExchange("web", e.putCode(codeOpts{}))
	at1, rt1 := str(r.body, "access_token"), str(r.body, "refresh_token")
	e.clock.Advance(time.Minute)
	r2 := e.refresh("web", rt1, nil)
	if r2.status != 200 {
		t.Fatalf("refresh: %d %s", r2.status, r2.raw)
	}
	at2, rt2 := str(r2.body, "access_token"), str(r2.body, "refresh_token")
	if rt2 == "" || rt2 == rt1 || at2 == at1 || str(r2.body, "id_token") == "" || str(r2.body, "scope") != "openid profile email read" {
		t.Fatalf("rotation: %s", r2.raw)
	}
	_, ic := decodeJWT(t, str(r2.body, "id_token"))
	if _, ok := ic["nonce"]; ok || ic["auth_time"] != float64(e.clock.Now().Add(-2*time.Minute).Unix()) {
		t.Fatalf("refreshed ID token: %v", ic)
	}
	// A refresh token is no access token: not introspectable, not a bearer.
	if in := e.introspect(rt2, "web", "web-secret"); in["active"] != false {
		t.Fatalf("introspection of a refresh token: %v", in)
	}
	if err := e.admit(rt2); err == nil {
		t.Fatal("a refresh token admitted as an access token")
	}
	// The previous access token is revoked, the new one works.
	if err := e.admit(at1); !errors.Is(err, ErrRevoked) {
		t.Fatalf("previous access token: %v", err)
	}
	if err := e.admit(at2); err != nil {
		t.Fatalf("new access token: %v", err)
	}
	// Narrowing: the access token gets less, the refresh token keeps the
	// original scope (RFC 6749 §6), so a later refresh may ask for it again.
	r3 := e.refresh("web", rt2, url.Values{"scope": {"read"}})
	if r3.status != 200 || str(r3.body, "scope") != "read" || str(r3.body, "id_token") != "" {
		t.Fatalf("narrowed refresh: %d %s", r3.status, r3.raw)
	}
	rt3 := str(r3.body, "refresh_token")
	wantOAuthError(t, e.refresh("web", rt3, url.Values{"scope": {"read write"}}), 400, errInvalidScope)
	r4 := e.refresh("web", rt3, url.Values{"scope": {"openid read"}})
	if r4.status != 200 || str(r4.body, "scope") != "openid read" {
		t.Fatalf("refresh after a refused widening: %d %s", r4.status, r4.raw)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := peopleEnv(t, nil)
	r := e.mustExchange("web", e.putCode(codeOpts{}))
	other := e.mustExchange("web", e.putCode(codeOpts{user: "bob"}))
	rt1 := str(r.body, "refresh_token")
	r2 := e.refresh("web", rt1, nil)
	at2, rt2 := str(r2.body, "access_token"), str(r2.body, "refresh_token")
	// The attacker (or the client, twice) presents the spent token.
	wantOAuthError(t, e.refresh("web", rt1, nil), 400, errInvalidGrant)
	if err := e.admit(at2); !errors.Is(err, ErrRevoked) {
		t.Fatalf("the family's access token after reuse: %v", err)
	}
	wantOAuthError(t, e.refresh("web", rt2, nil), 400, errInvalidGrant)
	// Another family is untouched.
	if err := e.admit(str(other.body, "access_token")); err != nil {
		t.Fatalf("another family: %v", err)
	}
	if r := e.refresh("web", str(other.body, "refresh_token"), nil); r.status != 200 {
		t.Fatalf("another family's refresh: %d %s", r.status, r.raw)
	}
}

func TestRefreshConcurrent(t *testing.T) {
	e := peopleEnv(t, nil)
	rt := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "refresh_token")
	race50(t, func() resp { return e.refresh("web", rt, nil) })
}

// race50 runs do on 50 goroutines released at once; exactly one must
// succeed and 49 get invalid_grant. It returns the success.
func race50(t *testing.T, do func() resp) resp {
	t.Helper()
	winner, ok, refused := testutil.Race(50, do, func(r resp) bool { return r.status == 200 },
		func(r resp) bool { return r.status == 400 && r.body["error"] == errInvalidGrant })
	if ok != 1 || refused != 49 {
		t.Fatalf("successes %d, invalid_grant %d; want 1 and 49", ok, refused)
	}
	return winner
}

func TestRefreshBindings(t *testing.T) {
	e := peopleEnv(t, func(c *Config) {
		c.RefreshTokenTTL = time.Hour
		c.RefreshFamilyLifetime = 150 * time.Minute
	})
	mob := e.mustExchange("mobile", e.putCode(codeOpts{client: "mobile", scopes: []string{"openid", "read"}}))
	mrt := str(mob.body, "refresh_token")
	// Another client cannot use it, and does not spend it.
	wantOAuthError(t, e.refresh("web", mrt, nil), 400, errInvalidGrant)
	r := e.refresh("mobile", mrt, nil)
	if r.status != 200 {
		t.Fatalf("owner's refresh after a foreign attempt: %d %s", r.status, r.raw)
	}
	mrt = str(r.body, "refresh_token")
	// Malformed and unknown tokens.
	for _, bad := range []string{"x", strings.Repeat("A", 43), strings.Repeat("A", 5000), mrt + "A", "a.b.c"} {
		wantOAuthError(t, e.refresh("mobile", bad, nil), 400, errInvalidGrant)
	}
	wantOAuthError(t, e.refresh("mobile", "", nil), 400, errInvalidRequest)
	// refresh_token_ttl: an unused token dies after an hour.
	e.clock.Advance(time.Hour)
	wantOAuthError(t, e.refresh("mobile", mrt, nil), 400, errInvalidGrant)
	// The family's absolute lifetime: refreshing every 50 minutes keeps it
	// alive until 150 minutes after the exchange, no longer.
	rt := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "refresh_token")
	for step := 1; step <= 3; step++ {
		e.clock.Advance(50 * time.Minute)
		r := e.refresh("web", rt, nil)
		if step < 3 {
			if r.status != 200 {
				t.Fatalf("refresh %d: %d %s", step, r.status, r.raw)
			}
			rt = str(r.body, "refresh_token")
			continue
		}
		wantOAuthError(t, r, 400, errInvalidGrant)
	}
}

// TestUserStateReachesTokens: a disabled or removed user's tokens are
// refused by in-process gateways at once, and they cannot refresh.
func TestUserStateReachesTokens(t *testing.T) {
	e := peopleEnv(t, func(c *Config) {
		c.Clients[len(c.Clients)-2].TokenFormat = FormatOpaque // web: opaque access tokens
	})
	ctx := context.Background()
	put := func(disabled bool) {
		if err := e.store.PutUser(ctx, store.UserRecord{Name: "dave", PasswordHash: cheapHash(t, "x"), Disabled: disabled}); err != nil {
			t.Fatal(err)
		}
	}
	put(false)
	r := e.mustExchange("web", e.putCode(codeOpts{user: "dave"}))
	at, rt := str(r.body, "access_token"), str(r.body, "refresh_token")
	if strings.Contains(at, ".") {
		t.Fatal("want an opaque token")
	}
	if err := e.admit(at); err != nil {
		t.Fatal(err)
	}
	put(true)
	if err := e.admit(at); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("disabled user's token: %v", err)
	}
	wantOAuthError(t, e.refresh("web", rt, nil), 400, errInvalidGrant)
	if in := e.introspect(at, "web", "web-secret"); in["active"] != false {
		t.Fatalf("introspection of a disabled user's token: %v", in)
	}
	put(false)
	if err := e.admit(at); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
	if err := e.store.DeleteUser(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if err := e.admit(at); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("removed user's token: %v", err)
	}
	// A client's own token is not a user's, whatever its subject.
	if err := e.admit(e.token("app", "app-secret", nil)); err != nil {
		t.Fatalf("client token: %v", err)
	}
}

func TestRevokeRefreshTokenRevokesFamily(t *testing.T) {
	e := peopleEnv(t, nil)
	r := e.mustExchange("web", e.putCode(codeOpts{}))
	at, rt := str(r.body, "access_token"), str(r.body, "refresh_token")
	// Another client's revocation is ignored.
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {rt}}, "app", "app-secret"); r.status != 200 {
		t.Fatalf("revoke by another client: %d", r.status)
	}
	if err := e.admit(at); err != nil {
		t.Fatalf("after another client's revocation: %v", err)
	}
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, "web", "web-secret"); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if err := e.admit(at); !errors.Is(err, ErrRevoked) {
		t.Fatalf("access token after its refresh token was revoked: %v", err)
	}
	wantOAuthError(t, e.refresh("web", rt, nil), 400, errInvalidGrant)
	// A public client revokes its own.
	m := e.mustExchange("mobile", e.putCode(codeOpts{client: "mobile", scopes: []string{"openid"}}))
	if r := e.do("POST", "/oauth/revoke", url.Values{"token": {str(m.body, "refresh_token")}, "client_id": {"mobile"}}, "", ""); r.status != 200 {
		t.Fatalf("public revoke: %d %s", r.status, r.raw)
	}
	if err := e.admit(str(m.body, "access_token")); !errors.Is(err, ErrRevoked) {
		t.Fatalf("public client's family: %v", err)
	}
}

func TestUserinfoErrors(t *testing.T) {
	e := peopleEnv(t, nil)
	noOpenID := str(e.mustExchange("web", e.putCode(codeOpts{scopes: []string{"read"}})).body, "access_token")
	call := func(method, authz string) resp {
		req := httptest.NewRequest(method, "/oauth/userinfo", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		return e.serve(req)
	}
	r := call("GET", "")
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="`+testIss+`"` {
		t.Fatalf("no token: %d %v", r.status, r.header)
	}
	for name, tc := range map[string]struct {
		authz  string
		status int
		code   string
	}{
		"client token": {"Bearer " + e.token("app", "app-secret", nil), 401, "invalid_token"},
		"garbage":      {"Bearer abc.def.ghi", 401, "invalid_token"},
		"basic":        {"Basic YTpi", 400, "invalid_request"},
		"huge":         {"Bearer " + strings.Repeat("a", 10000), 400, "invalid_request"},
		"no openid":    {"Bearer " + noOpenID, 403, "insufficient_scope"},
	} {
		r := call("POST", tc.authz)
		if r.status != tc.status || r.body["error"] != tc.code || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="`+tc.code+`"`) {
			t.Errorf("%s: %d %s %v", name, r.status, r.raw, r.header.Get("WWW-Authenticate"))
		}
	}
	if r := call("PUT", ""); r.status != 405 {
		t.Fatalf("PUT: %d", r.status)
	}
}

func TestPeopleMetadata(t *testing.T) {
	e := peopleEnv(t, nil)
	md := e.do("GET", PathOIDCMetadata, nil, "", "").body
	for k, v := range map[string]string{
		"authorization_endpoint": testIss + "/oauth/authorize", "userinfo_endpoint": testIss + "/oauth/userinfo",
		"end_session_endpoint": testIss + "/oauth/logout",
	} {
		if md[k] != v {
			t.Errorf("%s = %v", k, md[k])
		}
	}
	if md["authorization_response_iss_parameter_supported"] != true {
		t.Error("iss parameter not announced")
	}
	for k, want := range map[string]string{
		"code_challenge_methods_supported": "S256", "response_types_supported": "code token",
		"id_token_signing_alg_values_supported": "RS256", "token_endpoint_auth_methods_supported": "client_secret_basic client_secret_post private_key_jwt client_secret_jwt tls_client_auth self_signed_tls_client_auth none",
	} {
		if got := strings.Join(toStrings(md[k]), " "); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	grants := strings.Join(toStrings(md["grant_types_supported"]), " ")
	if !strings.Contains(grants, "authorization_code refresh_token implicit") {
		t.Errorf("grant_types_supported %s", grants)
	}
	claims := strings.Join(toStrings(md["claims_supported"]), " ")
	for _, c := range []string{"sub", "auth_time", "nonce", "email", "name"} {
		if !strings.Contains(claims, c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	// A machine-only issuer announces none of it.
	md = newEnv(t, nil).do("GET", PathOIDCMetadata, nil, "", "").body
	if _, ok := md["authorization_endpoint"]; ok {
		t.Error("machine-only issuer announces an authorization endpoint")
	}
}

func TestIDTokenKeys(t *testing.T) {
	// RS256 issuer: one key signs both.
	e := peopleEnv(t, func(c *Config) { c.SigningAlg = "RS256" })
	if e.iss.idKeys != nil {
		t.Fatal("an RS256 issuer keeps a second key")
	}
	hdr, _ := decodeJWT(t, str(e.mustExchange("web", e.putCode(codeOpts{})).body, "id_token"))
	if hdr["kid"] != e.iss.SigningKeyID() {
		t.Fatalf("ID token kid %v, signing kid %s", hdr["kid"], e.iss.SigningKeyID())
	}
	// A client asking for the issuer's own alg gets it.
	e = peopleEnv(t, func(c *Config) {
		c.SigningAlg = "EdDSA"
		c.Clients[len(c.Clients)-2].IDTokenSignedResponseAlg = "EdDSA"
		c.Clients[len(c.Clients)-1].IDTokenSignedResponseAlg = "EdDSA"
	})
	if e.iss.idKeys != nil {
		t.Fatal("no client needs RS256, yet an RS256 key was made")
	}
	hdr, ic := decodeJWT(t, str(e.mustExchange("web", e.putCode(codeOpts{})).body, "id_token"))
	if hdr["alg"] != "EdDSA" || ic["at_hash"] == nil {
		t.Fatalf("EdDSA ID token: %v %v", hdr, ic)
	}
	// The RS256 ID-token key never verifies access tokens in-process.
	e = peopleEnv(t, nil)
	rs := e.iss.idKeys.current(context.Background()).signer
	forged, err := rs.Sign(token.TypAccessToken, []byte(`{"iss":"`+testIss+`","sub":"alice","client_id":"web","jti":"j","exp":9999999999,"auth_time":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.iss.resolve(context.Background(), forged); err == nil {
		t.Fatal("an access token signed with the ID-token key verified")
	}
}

func TestTokenExchangeRefusesUserTokens(t *testing.T) {
	e := peopleEnv(t, func(c *Config) {
		c.Clients[len(c.Clients)-2].GrantTypes = append(c.Clients[len(c.Clients)-2].GrantTypes, GrantTokenExchange)
	})
	at := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "access_token")
	r := e.do("POST", "/oauth/token", url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {at},
		"subject_token_type": {TokenTypeAccessToken}}, "web", "web-secret")
	wantOAuthError(t, r, 400, errInvalidRequest)
}

func TestMintImplicit(t *testing.T) {
	e := peopleEnv(t, nil)
	c := e.iss.clients.load().byID["web"]
	u, err := e.iss.lookupUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	resp, oe := e.iss.mintImplicit(context.Background(), c, u, []string{"read"}, now.Add(-time.Minute), now)
	if oe != nil || resp.RefreshToken != "" || resp.IDToken != "" || resp.ExpiresIn != 3600 || resp.Scope != "read" {
		t.Fatalf("implicit: %+v %v", resp, oe)
	}
	if _, ac := decodeJWT(t, resp.AccessToken); ac["sub"] != "alice" || ac["auth_time"] != float64(now.Add(-time.Minute).Unix()) {
		t.Fatalf("implicit access token: %v", ac)
	}
	if err := e.admit(resp.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, oe := e.iss.mintImplicit(context.Background(), c, u, []string{"admin"}, now, now); oe == nil || oe.Code != errInvalidScope {
		t.Fatalf("implicit with a scope the client lacks: %v", oe)
	}
	mobile := e.iss.clients.load().byID["mobile"]
	if _, oe := e.iss.mintImplicit(context.Background(), mobile, u, nil, now, now); oe == nil || oe.Code != errUnauthorizedClient {
		t.Fatalf("implicit for a client without the grant: %v", oe)
	}
}

// TestIDTokenHintVerifies: an ID token signed with the RS256 ID-token key
// (next to the ES256 signing key) is a valid id_token_hint.
func TestIDTokenHintVerifies(t *testing.T) {
	e := peopleEnv(t, nil)
	idt := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "id_token")
	c, err := e.iss.verifyIDTokenHint(context.Background(), idt)
	if err != nil || c.Subject != "alice" {
		t.Fatalf("id_token_hint: %v %v", c, err)
	}
}
