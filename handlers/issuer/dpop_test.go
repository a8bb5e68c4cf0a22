package issuer

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

// dpopKey is a DPoP key whose proofs jwx signs (testutil.DPoPKey).
type dpopKey struct {
	*testutil.DPoPKey
	jkt string
}

func newDPoPKey(t testing.TB) *dpopKey {
	k := testutil.NewDPoPKey(t)
	return &dpopKey{k, k.JKT}
}

// proof signs a token-endpoint proof at iat, with nonce unless "".
func (k *dpopKey) proof(t testing.TB, method, htu string, iat time.Time, nonce string) string {
	t.Helper()
	var over map[string]any
	if nonce != "" {
		over = map[string]any{"nonce": nonce}
	}
	return k.Proof(t, method, htu, "", iat, over)
}

const tokenURL = testIss + "/oauth/token"

// dpopToken posts a token request with the given proofs (none: no header).
func (e *testEnv) dpopToken(id, secret string, form url.Values, proofs ...string) resp {
	e.t.Helper()
	if form == nil {
		form = url.Values{"grant_type": {GrantClientCredentials}}
	}
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return e.serve(r)
}

func TestDPoPTokenIssuance(t *testing.T) {
	e := newEnv(t, nil)
	k := newDPoPKey(t)
	now := e.clock.Now()

	r := e.dpopToken("app", "app-secret", nil, k.proof(t, "POST", tokenURL, now, ""))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("JWT: %d %s", r.status, r.raw)
	}
	jwt := r.body["access_token"].(string)
	_, claims := decodeJWT(t, jwt)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != k.jkt {
		t.Fatalf("cnf %v, want jkt %s", claims["cnf"], k.jkt)
	}
	in := e.introspect(jwt, "app", "app-secret")
	if in["token_type"] != "DPoP" || in["cnf"].(map[string]any)["jkt"] != k.jkt {
		t.Fatalf("introspection of a DPoP JWT: %v", in)
	}

	r = e.dpopToken("opq", "opq-secret", nil, k.proof(t, "POST", tokenURL, now, ""))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("opaque: %d %s", r.status, r.raw)
	}
	opaque := r.body["access_token"].(string)
	in = e.introspect(opaque, "opq", "opq-secret")
	if in["token_type"] != "DPoP" || in["cnf"].(map[string]any)["jkt"] != k.jkt {
		t.Fatalf("introspection of a DPoP opaque token: %v", in)
	}
	c, err := e.iss.LookupOpaque(context.Background(), opaque)
	if err != nil || c.Cnf == nil || c.Cnf.JKT != k.jkt {
		t.Fatalf("opaque token's claims for the gateway: %+v %v", c, err)
	}

	// Without a proof: Bearer, no cnf.
	r = e.dpopToken("app", "app-secret", nil)
	if r.status != 200 || r.body["token_type"] != "Bearer" {
		t.Fatalf("no proof: %d %s", r.status, r.raw)
	}
	if _, claims := decodeJWT(t, r.body["access_token"].(string)); claims["cnf"] != nil {
		t.Fatalf("bearer token with cnf: %v", claims)
	}
}

func TestDPoPTokenRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "mobile", Secrets: []SecretConfig{{Plain: "m"}}, DPoP: DPoPRequired})
	})
	k := newDPoPKey(t)
	now := e.clock.Now()
	replayed := k.proof(t, "POST", tokenURL, now, "")
	if r := e.dpopToken("app", "app-secret", nil, replayed); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	for name, proofs := range map[string][]string{
		"replayed":   {replayed},
		"wrong htm":  {k.proof(t, "GET", tokenURL, now, "")},
		"wrong htu":  {k.proof(t, "POST", testIss+"/oauth/introspect", now, "")},
		"other host": {k.proof(t, "POST", "https://evil.example.com/oauth/token", now, "")},
		"stale":      {k.proof(t, "POST", tokenURL, now.Add(-2*time.Minute), "")},
		"future":     {k.proof(t, "POST", tokenURL, now.Add(time.Minute), "")},
		"garbage":    {"a.b.c"},
		"two proofs": {k.proof(t, "POST", tokenURL, now, ""), k.proof(t, "POST", tokenURL, now, "")},
	} {
		wantOAuthError(t, e.dpopToken("app", "app-secret", nil, proofs...), 400, errInvalidDPoPProof)
		_ = name
	}
	// dpop required: no Bearer issuance.
	wantOAuthError(t, e.dpopToken("mobile", "m", nil), 400, errInvalidDPoPProof)
	if r := e.dpopToken("mobile", "m", nil, k.proof(t, "POST", tokenURL, now, "")); r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("required client with a proof: %d %s", r.status, r.raw)
	}
	// Client authentication comes first: a bad secret is invalid_client
	// whatever the proof.
	wantOAuthError(t, e.dpopToken("app", "wrong", nil, k.proof(t, "POST", tokenURL, now, "")), 401, errInvalidClient)
}

// RFC 9449 §8: with dpop_nonce, a proof without the current nonce gets
// use_dpop_nonce and the nonce in DPoP-Nonce; the retry with it succeeds;
// a nonce two windows old is refused again.
func TestDPoPNonce(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DPoPNonce = true })
	k := newDPoPKey(t)
	r := e.dpopToken("app", "app-secret", nil, k.proof(t, "POST", tokenURL, e.clock.Now(), ""))
	wantOAuthError(t, r, 400, errUseDPoPNonce)
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce")
	}
	wantOAuthError(t, e.dpopToken("app", "app-secret", nil, k.proof(t, "POST", tokenURL, e.clock.Now(), "forged")), 400, errUseDPoPNonce)
	r = e.dpopToken("app", "app-secret", nil, k.proof(t, "POST", tokenURL, e.clock.Now(), nonce))
	if r.status != 200 || r.body["token_type"] != "DPoP" || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with nonce: %d %s %v", r.status, r.raw, r.header)
	}
	e.clock.Advance(dpopNonceWindow) // the previous window's nonce still works
	if r := e.dpopToken("app", "app-secret", nil, k.proof(t, "POST", tokenURL, e.clock.Now(), nonce)); r.status != 200 {
		t.Fatalf("nonce of the previous window: %d %s", r.status, r.raw)
	}
	e.clock.Advance(dpopNonceWindow)
	r = e.dpopToken("app", "app-secret", nil, k.proof(t, "POST", tokenURL, e.clock.Now(), nonce))
	wantOAuthError(t, r, 400, errUseDPoPNonce)
	if r.header.Get("DPoP-Nonce") == nonce {
		t.Fatal("the expired nonce is still offered")
	}
}

// A DPoP-bound token is exchanged only with a proof of its key, and the new
// token is bound to it too: never a Bearer token from a bound one.
func TestDPoPTokenExchangeKeepsBinding(t *testing.T) {
	e := newEnv(t, nil)
	k, other := newDPoPKey(t), newDPoPKey(t)
	now := e.clock.Now()
	r := e.dpopToken("app", "app-secret", url.Values{"grant_type": {GrantClientCredentials}, "scope": {"read write"}}, k.proof(t, "POST", tokenURL, now, ""))
	subject := r.body["access_token"].(string)
	form := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {subject}, "subject_token_type": {TokenTypeAccessToken}, "scope": {"read"}}
	wantOAuthError(t, e.dpopToken("app", "app-secret", form), 400, errInvalidDPoPProof)
	wantOAuthError(t, e.dpopToken("app", "app-secret", form, other.proof(t, "POST", tokenURL, now, "")), 400, errInvalidDPoPProof)
	r = e.dpopToken("app", "app-secret", form, k.proof(t, "POST", tokenURL, now, ""))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("exchange with the key: %d %s", r.status, r.raw)
	}
}

func TestDPoPConfigAndMetadata(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DPoPAlgorithms = []string{token.ES256, token.EdDSA} })
	r := e.do("GET", PathASMetadata, nil, "", "")
	algs, _ := r.body["dpop_signing_alg_values_supported"].([]any)
	if len(algs) != 2 || algs[0] != "ES256" || algs[1] != "EdDSA" {
		t.Fatalf("dpop_signing_alg_values_supported: %v", r.body["dpop_signing_alg_values_supported"])
	}
	e = newEnv(t, nil)
	r = e.do("GET", PathASMetadata, nil, "", "")
	if algs, _ := r.body["dpop_signing_alg_values_supported"].([]any); len(algs) != len(token.DefaultDPoPAlgorithms) || slices.Contains(algs, any("HS256")) {
		t.Fatalf("default dpop_signing_alg_values_supported: %v", algs)
	}
	for name, mut := range map[string]func(*Config){
		"HMAC proofs":   func(c *Config) { c.DPoPAlgorithms = []string{"HS256"} },
		"none":          func(c *Config) { c.DPoPAlgorithms = []string{"none"} },
		"client mode x": func(c *Config) { c.Clients[0].DPoP = "sometimes" },
	} {
		cfg := baseConfig()
		mut(&cfg)
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A public client's refresh token is bound to the DPoP key of the code
// exchange: it refreshes only with a proof of that key, and its successor
// (and the new access token) stay bound to it. A confidential client's
// refresh token is not bound.
func TestDPoPBindsPublicRefreshTokens(t *testing.T) {
	e := peopleEnv(t, nil)
	k, other := newDPoPKey(t), newDPoPKey(t)
	post := func(f url.Values, id, secret string, proofs ...string) resp {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			r.SetBasicAuth(id, secret)
		}
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
		return e.serve(r)
	}
	proof := func(key *dpopKey) string { return key.proof(t, "POST", tokenURL, e.clock.Now(), "") }
	code := e.putCode(codeOpts{client: "mobile", scopes: []string{"openid", "read"}})
	r := post(url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {tokensVerifier},
		"redirect_uri": {"http://127.0.0.1/cb"}, "client_id": {"mobile"}}, "", "", proof(k))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("public client's DPoP exchange: %d %s", r.status, r.raw)
	}
	rt := str(r.body, "refresh_token")
	refresh := func(rt string, proofs ...string) resp {
		return post(url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}, "client_id": {"mobile"}}, "", "", proofs...)
	}
	// Without a proof, or with another key's: refused, and not spent.
	wantOAuthError(t, refresh(rt), 400, errInvalidDPoPProof)
	wantOAuthError(t, refresh(rt, proof(other)), 400, errInvalidDPoPProof)
	r = refresh(rt, proof(k))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %s", r.status, r.raw)
	}
	if _, claims := decodeJWT(t, str(r.body, "access_token")); claims["cnf"].(map[string]any)["jkt"] != k.jkt {
		t.Fatalf("refreshed access token's cnf: %v", claims["cnf"])
	}
	next := str(r.body, "refresh_token")
	wantOAuthError(t, refresh(next), 400, errInvalidDPoPProof)
	if r := refresh(next, proof(k)); r.status != 200 {
		t.Fatalf("successor bound to the same key: %d %s", r.status, r.raw)
	}

	// A public client without DPoP gets an unbound refresh token (dpop
	// optional), usable without a proof.
	r = e.mustExchange("mobile", e.putCode(codeOpts{client: "mobile", scopes: []string{"read"}}))
	if r := refresh(str(r.body, "refresh_token")); r.status != 200 || r.body["token_type"] != "Bearer" {
		t.Fatalf("unbound public refresh: %d %s", r.status, r.raw)
	}
	// A confidential client's refresh token is not bound by a DPoP
	// exchange: it may refresh with another key (or none).
	code = e.putCode(codeOpts{})
	r = post(url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {tokensVerifier},
		"redirect_uri": {"https://app.example/cb"}}, "web", "web-secret", proof(k))
	if r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("confidential DPoP exchange: %d %s", r.status, r.raw)
	}
	r = post(url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {str(r.body, "refresh_token")}}, "web", "web-secret", proof(other))
	if _, claims := decodeJWT(t, str(r.body, "access_token")); r.status != 200 || claims["cnf"].(map[string]any)["jkt"] != other.jkt {
		t.Fatalf("confidential refresh with another key: %d %s", r.status, r.raw)
	}
}

// Of concurrent token requests with one proof, exactly one gets a token
// (the store's MarkUsed has one winner).
func TestDPoPConcurrentProofAtTokenEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	p := newDPoPKey(t).proof(t, "POST", tokenURL, e.clock.Now(), "")
	const n = 12
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader("grant_type=client_credentials"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("app", "app-secret")
			r.Header.Set("DPoP", p)
			w := httptest.NewRecorder()
			e.iss.Handle(w, r, e.ip)
			codes <- w.Code
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		if <-codes == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent requests with one proof got a token", ok, n)
	}
}

// FuzzTokenRequestDPoP throws arbitrary DPoP headers at the token endpoint
// of an authenticated client: it never panics and answers a DPoP token (for
// a proof it accepted), or a well-formed invalid_dpop_proof, or a retryable
// 429/503, never a Bearer token for a request that carried a proof.
func FuzzTokenRequestDPoP(f *testing.F) {
	e := newEnv(f, nil)
	k := newDPoPKey(f)
	f.Add(k.proof(f, "POST", tokenURL, e.clock.Now(), ""))
	f.Add(k.proof(f, "GET", tokenURL, e.clock.Now(), "n"))
	f.Add("a.b.c")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.")
	f.Fuzz(func(t *testing.T, proof string) {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("app", "app-secret")
		r.Header["Dpop"] = []string{proof}
		w := httptest.NewRecorder()
		e.iss.Handle(w, r, e.ip)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("not JSON: %q", w.Body.String())
		}
		switch w.Code {
		case 200:
			if out["token_type"] != "DPoP" {
				t.Fatalf("a request with a proof got %v", out)
			}
		case 400:
			if out["error"] != errInvalidDPoPProof {
				t.Fatalf("400 %v", out)
			}
		case 429, 503:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
