package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/jwkscache"
)

const hmacSecretValue = "0123456789abcdef0123456789abcdef-hmac"

// jwtKeys are the private keys of the JWT-authenticating test clients.
type jwtKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
	jwk *testutil.KeySetServer // serves the EdDSA client's JWKS
}

func newJWTKeys(t testing.TB) *jwtKeys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	ks := testutil.NewKeySetServer(t, "/jwks.json")
	ks.Publish([]string{"ed1"}, testutil.JWKS(testutil.PublicJWK(t, edk.Public(), "ed1", "EdDSA", "sig")))
	return &jwtKeys{rsa: rk, ec: ek, ed: edk, jwk: ks}
}

func pemPublic(t testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// withJWTClients adds the JWT-authenticating clients to a config.
func withJWTClients(t testing.TB, k *jwtKeys) func(*Config) {
	return func(c *Config) {
		c.JWKS = jwkscache.NewCache(jwkscache.CacheConfig{})
		t.Cleanup(c.JWKS.Close)
		off := false
		c.Clients = append(c.Clients,
			ClientConfig{ID: "pk-rsa", AuthMethods: []string{AuthPrivateKeyJWT}, Scopes: []string{"read"},
				StrongAuth: StrongAuth{Keys: []ClientKey{{Data: testutil.JWKS(testutil.PublicJWK(t, k.rsa.Public(), "k1", "", "sig")), Source: "rsa.jwks"}},
					AllowedKids: []string{"k1"}}},
			ClientConfig{ID: "pk-ec", AuthMethods: []string{AuthPrivateKeyJWT}, Scopes: []string{"read"},
				StrongAuth: StrongAuth{Keys: []ClientKey{{Data: pemPublic(t, k.ec.Public()), Source: "ec.pem", KID: "partner-cert"}}}},
			ClientConfig{ID: "pk-ed", AuthMethods: []string{AuthPrivateKeyJWT}, Scopes: []string{"read"},
				StrongAuth: StrongAuth{JWKSURI: k.jwk.JWKSURL()}},
			ClientConfig{ID: "pk-replayable", AuthMethods: []string{AuthPrivateKeyJWT},
				StrongAuth: StrongAuth{Keys: []ClientKey{{Data: pemPublic(t, k.ec.Public()), Source: "ec.pem"}}, ValidateJTI: &off}},
			ClientConfig{ID: "hs", AuthMethods: []string{AuthClientSecretJWT}, Secrets: []SecretConfig{{Plain: hmacSecretValue}}},
		)
	}
}

// assertion signs an RFC 7523 client assertion; mutate changes its claims.
func (e *testEnv) assertion(t testing.TB, key any, alg, kid, client string, mutate func(map[string]any)) string {
	t.Helper()
	now := e.clock.Now().Unix()
	claims := map[string]any{"iss": client, "sub": client, "aud": testIss + "/oauth/token",
		"exp": now + 60, "iat": now, "jti": testRandomID(t)}
	if mutate != nil {
		mutate(claims)
	}
	hdr := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	return testutil.MustSignJWT(t, key, hdr, claims)
}

func testRandomID(t testing.TB) string {
	s, err := randomString(12)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *testEnv) assertionToken(a string, extra url.Values) resp {
	f := url.Values{"grant_type": {GrantClientCredentials}, "client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {a}}
	for k, v := range extra {
		f[k] = v
	}
	return e.do("POST", "/oauth/token", f, "", "")
}

func TestPrivateKeyJWTSucceeds(t *testing.T) {
	k := newJWTKeys(t)
	e := newEnv(t, withJWTClients(t, k))
	for _, tc := range []struct {
		client, alg, kid string
		key              any
	}{
		{"pk-rsa", "RS256", "k1", k.rsa},
		{"pk-rsa", "PS256", "k1", k.rsa},
		{"pk-ec", "ES256", "partner-cert", k.ec},
		{"pk-ec", "ES256", "", k.ec},
		{"pk-ed", "EdDSA", "ed1", k.ed},
		{"hs", "HS256", "", []byte(hmacSecretValue)},
		{"hs", "HS512", "", []byte(hmacSecretValue)},
	} {
		r := e.assertionToken(e.assertion(t, tc.key, tc.alg, tc.kid, tc.client, nil), nil)
		if r.status != 200 {
			t.Fatalf("%s %s: %d %s", tc.client, tc.alg, r.status, r.raw)
		}
		_, claims := decodeJWT(t, r.body["access_token"].(string))
		if claims["client_id"] != tc.client {
			t.Fatalf("%s: token of %v", tc.client, claims["client_id"])
		}
	}
	// aud may be the issuer, or the endpoint the assertion is sent to.
	for _, aud := range []any{testIss, []string{"https://other", testIss + "/oauth/token"}} {
		a := e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["aud"] = aud })
		if r := e.assertionToken(a, nil); r.status != 200 {
			t.Fatalf("aud %v: %d %s", aud, r.status, r.raw)
		}
	}
	a := e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["aud"] = testIss + "/oauth/introspect" })
	tok := e.token("app", "app-secret", nil)
	r := e.do("POST", "/oauth/introspect", url.Values{"token": {tok}, "client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {a}}, "", "")
	if r.status != 200 {
		t.Fatalf("introspection with an assertion: %d %s", r.status, r.raw)
	}
}

func TestPrivateKeyJWTRefusals(t *testing.T) {
	k := newJWTKeys(t)
	e := newEnv(t, withJWTClients(t, k))
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	replayed := e.assertion(t, k.ec, "ES256", "", "pk-ec", nil)
	if r := e.assertionToken(replayed, nil); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	now := e.clock.Now().Unix()
	cases := map[string]string{
		"replayed jti":             replayed,
		"wrong aud":                e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["aud"] = "https://elsewhere.example/oauth/token" }),
		"no aud":                   e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { delete(c, "aud") }),
		"expired":                  e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["exp"] = now - 120 }),
		"no exp":                   e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { delete(c, "exp") }),
		"exp > 5 min":              e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["exp"] = now + 3600 }),
		"future nbf":               e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["nbf"] = now + 200 }),
		"no jti":                   e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { delete(c, "jti") }),
		"long jti":                 e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["jti"] = strings.Repeat("j", 300) }),
		"sub != iss":               e.assertion(t, k.ec, "ES256", "", "pk-ec", func(c map[string]any) { c["sub"] = "app" }),
		"other key":                e.assertion(t, other, "ES256", "", "pk-ec", nil),
		"kid not allowed":          e.assertion(t, k.rsa, "RS256", "k2", "pk-rsa", nil),
		"no kid, allowed_kids set": e.assertion(t, k.rsa, "RS256", "", "pk-rsa", nil),
		// An HS256 assertion is client_secret_jwt, which the client may
		// not use; signed with its public key's bytes it proves nothing.
		"HS256 for private_key_jwt": e.assertion(t, pemPublic(t, k.ec.Public()), "HS256", "", "pk-ec", nil),
		"unknown client":            e.assertion(t, k.ec, "ES256", "", "nobody", nil),
		"secret client, RS256":      e.assertion(t, k.rsa, "RS256", "", "hs", nil),
		"wrong hmac secret":         e.assertion(t, []byte(strings.Repeat("x", 40)), "HS256", "", "hs", nil),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			wantOAuthError(t, e.assertionToken(a, nil), http.StatusUnauthorized, errInvalidClient)
		})
	}
	// An access-token or other explicitly typed JWT is no assertion.
	for _, typ := range []string{"at+jwt", "application/AT+JWT", "dpop+jwt"} {
		now := e.clock.Now().Unix()
		a := testutil.MustSignJWT(t, k.ec, map[string]string{"alg": "ES256", "typ": typ},
			map[string]any{"iss": "pk-ec", "sub": "pk-ec", "aud": testIss, "exp": now + 60, "jti": testRandomID(t)})
		wantOAuthError(t, e.assertionToken(a, nil), http.StatusUnauthorized, errInvalidClient)
	}
	// alg none, malformed, oversized, other types.
	noneTok := "eyJhbGciOiJub25lIn0." + strings.TrimRight(strings.Split(replayed, ".")[1], "=") + "."
	for name, f := range map[string]url.Values{
		"none":      {"client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {noneTok}},
		"garbage":   {"client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {"a.b.c"}},
		"oversized": {"client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {strings.Repeat("a", 9000) + ".b.c"}},
	} {
		f.Set("grant_type", GrantClientCredentials)
		if r := e.do("POST", "/oauth/token", f, "", ""); r.status != http.StatusUnauthorized && r.status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
	}
	a := e.assertion(t, k.ec, "ES256", "", "pk-ec", nil)
	for name, extra := range map[string]url.Values{
		"wrong type":         {"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}},
		"client_id mismatch": {"client_id": {"app"}},
	} {
		wantOAuthError(t, e.assertionToken(a, extra), http.StatusBadRequest, errInvalidRequest)
		_ = name
	}
	// An assertion next to a secret: the secret method answers first.
	wantOAuthError(t, e.assertionToken(a, url.Values{"client_secret": {"x"}, "client_id": {"pk-ec"}}), http.StatusBadRequest, errInvalidRequest)
	r := httptestBasic(e, a)
	wantOAuthError(t, r, http.StatusBadRequest, errInvalidRequest)
	// validate_jti off: the same assertion works twice.
	rep := e.assertion(t, k.ec, "ES256", "", "pk-replayable", nil)
	for n := 0; n < 2; n++ {
		if r := e.assertionToken(rep, nil); r.status != 200 {
			t.Fatalf("validate_jti off, use %d: %d %s", n, r.status, r.raw)
		}
	}
}

// A jti is single use across issuer instances that share the store.
func TestAssertionJTISharedAcrossInstances(t *testing.T) {
	k := newJWTKeys(t)
	a := newEnv(t, withJWTClients(t, k))
	b := newEnvOn(t, a.store, a.clock, withJWTClients(t, k))
	tok := a.assertion(t, k.ec, "ES256", "", "pk-ec", nil)
	if r := a.assertionToken(tok, nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	wantOAuthError(t, b.assertionToken(tok, nil), http.StatusUnauthorized, errInvalidClient)
}

func TestPrivateKeyJWTUnusableJWKS(t *testing.T) {
	k := newJWTKeys(t)
	big := testutil.NewKeySetServer(t, "/jwks.json")
	pad := strings.Repeat(" ", 2<<20)
	big.Publish([]string{"ed1"}, []byte(`{"keys":[`+string(testutil.PublicJWK(t, k.ed.Public(), "ed1", "EdDSA", "sig"))+`]}`+pad))
	down := testutil.NewKeySetServer(t, "/jwks.json")
	down.Close()
	e := newEnv(t, func(c *Config) {
		withJWTClients(t, k)(c)
		c.Clients = append(c.Clients,
			ClientConfig{ID: "pk-big", AuthMethods: []string{AuthPrivateKeyJWT}, StrongAuth: StrongAuth{JWKSURI: big.JWKSURL()}},
			ClientConfig{ID: "pk-down", AuthMethods: []string{AuthPrivateKeyJWT}, StrongAuth: StrongAuth{JWKSURI: down.JWKSURL()}})
	})
	for _, id := range []string{"pk-big", "pk-down"} {
		wantOAuthError(t, e.assertionToken(e.assertion(t, k.ed, "EdDSA", "ed1", id, nil), nil), http.StatusUnauthorized, errInvalidClient)
	}
	// The EdDSA client's JWKS rotates: a new kid is fetched on first use.
	_, ed2, _ := ed25519.GenerateKey(rand.Reader)
	k.jwk.Publish([]string{"ed1", "ed2"}, testutil.JWKS(testutil.PublicJWK(t, k.ed.Public(), "ed1", "EdDSA", "sig"), testutil.PublicJWK(t, ed2.Public(), "ed2", "EdDSA", "sig")))
	if r := e.assertionToken(e.assertion(t, ed2, "EdDSA", "ed2", "pk-ed", nil), nil); r.status != 200 {
		t.Fatalf("rotated key: %d %s", r.status, r.raw)
	}
}

func TestStrongAuthConfigErrors(t *testing.T) {
	k := newJWTKeys(t)
	pub := pemPublic(t, k.ec.Public())
	for name, cc := range map[string]ClientConfig{
		"private_key_jwt without keys":   {ID: "x", AuthMethods: []string{AuthPrivateKeyJWT}},
		"key without a keyed method":     {ID: "x", Secrets: []SecretConfig{{Plain: "s"}}, StrongAuth: StrongAuth{Keys: []ClientKey{{Data: pub}}}},
		"client_secret_jwt with a hash":  {ID: "x", AuthMethods: []string{AuthClientSecretJWT}, Secrets: []SecretConfig{{Hash: HashSecret(hmacSecretValue)}}},
		"client_secret_jwt short secret": {ID: "x", AuthMethods: []string{AuthClientSecretJWT}, Secrets: []SecretConfig{{Plain: "short"}}},
		"tls_client_auth without match":  {ID: "x", AuthMethods: []string{AuthTLSClientAuth}},
		"match without tls_client_auth":  {ID: "x", Secrets: []SecretConfig{{Plain: "s"}}, StrongAuth: StrongAuth{TLSClientAuth: &TLSClientAuthMatch{CertSANDNS, "a"}}},
		"bad jwks_uri":                   {ID: "x", AuthMethods: []string{AuthPrivateKeyJWT}, StrongAuth: StrongAuth{JWKSURI: "file:///etc/passwd"}},
		"http jwks_uri":                  {ID: "x", AuthMethods: []string{AuthPrivateKeyJWT}, StrongAuth: StrongAuth{JWKSURI: "http://partner.example.com/jwks"}},
		"private key file":               {ID: "x", AuthMethods: []string{AuthPrivateKeyJWT}, StrongAuth: StrongAuth{Keys: []ClientKey{{Data: privatePEM(t, k.ec)}}}},
		"allowed_kids without jwt":       {ID: "x", Secrets: []SecretConfig{{Plain: "s"}}, StrongAuth: StrongAuth{AllowedKids: []string{"a"}}},
		"basic without secret":           {ID: "x", AuthMethods: []string{AuthClientSecretBasic, AuthPrivateKeyJWT}, StrongAuth: StrongAuth{Keys: []ClientKey{{Data: pub}}}},
	} {
		_, err := New(t.Context(), Config{Issuer: testIss, Clients: []ClientConfig{cc}, JWKS: jwkscache.NewCache(jwkscache.CacheConfig{})})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(t.Context(), Config{Issuer: testIss, Clients: []ClientConfig{{ID: "x", AuthMethods: []string{AuthPrivateKeyJWT}, StrongAuth: StrongAuth{JWKSURI: "https://x.example/jwks"}}}}); err == nil {
		t.Error("jwks_uri without a JWKS cache accepted")
	}
}

func privatePEM(t testing.TB, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestMetadataListsStrongMethods(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", PathASMetadata, nil, "", "")
	methods := r.body["token_endpoint_auth_methods_supported"].([]any)
	for _, m := range []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthClientSecretJWT, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth} {
		found := false
		for _, have := range methods {
			found = found || have == m
		}
		if !found {
			t.Errorf("metadata lacks %s: %v", m, methods)
		}
	}
	if r.body["tls_client_certificate_bound_access_tokens"] != true {
		t.Error("tls_client_certificate_bound_access_tokens missing")
	}
	algs := r.body["token_endpoint_auth_signing_alg_values_supported"].([]any)
	for _, a := range algs {
		if a == "none" {
			t.Error("none listed")
		}
	}
}

// httptestBasic sends an assertion together with HTTP Basic credentials.
func httptestBasic(e *testEnv, a string) resp {
	f := url.Values{"grant_type": {GrantClientCredentials}, "client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {a}}
	return e.do("POST", "/oauth/token", f, "app", "app-secret")
}

// An unknown client's assertion is checked against dummy keys of every
// algorithm either JWT method accepts (the work of a wrong signature).
func TestDummyAssertionKeysCoverEveryAlgorithm(t *testing.T) {
	set := dummyAssertionKeys()
	for _, alg := range append(append([]string{}, asymmetricAlgs...), hmacAlgs...) {
		if len(set.Lookup("any-kid", alg)) == 0 {
			t.Errorf("no dummy key for %s", alg)
		}
	}
}

// Concurrent requests with one assertion: exactly one gets a token.
func TestAssertionReplayedConcurrently(t *testing.T) {
	k := newJWTKeys(t)
	e := newEnv(t, withJWTClients(t, k))
	a := e.assertion(t, k.ec, "ES256", "", "pk-ec", nil)
	const n = 16
	codes := make(chan int, n)
	var start sync.WaitGroup
	start.Add(1)
	for range n {
		go func() {
			start.Wait()
			codes <- e.assertionToken(a, nil).status
		}()
	}
	start.Done()
	ok := 0
	for range n {
		if <-codes == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded, want 1", ok, n)
	}
}
