package token

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var testNow = time.Unix(1_800_000_000, 0)

func claimsJSON(extra string) string {
	base := fmt.Sprintf(`{"iss":"https://idp.example","sub":"alice","aud":"api","exp":%d,"iat":%d,"scope":"read write"`,
		testNow.Unix()+3600, testNow.Unix()-10)
	if extra != "" {
		base += "," + extra
	}
	return base + "}"
}

func staticKeys(s *KeySet) IssuerKeys {
	return func(string) (KeyResolver, error) { return s, nil }
}

func verifyAndCheck(t *testing.T, tok string, p *Policy, keys IssuerKeys) (*Claims, error) {
	t.Helper()
	c, err := VerifySignature(context.Background(), tok, p, keys)
	if err != nil {
		return nil, err
	}
	if e := p.Check(c, testNow); e != nil {
		return nil, e
	}
	return c, nil
}

func TestVerifyAcceptsEveryAlgorithm(t *testing.T) {
	k := newTestKeys(t)
	set := k.set(t)
	cases := []struct {
		alg, kid string
		key      any
	}{
		{ES256, "ec1", k.ec}, {RS256, "rsa1", k.rsa}, {RS384, "rsa1", k.rsa}, {RS512, "rsa1", k.rsa},
		{PS256, "rsa1", k.rsa}, {PS384, "rsa1", k.rsa}, {PS512, "rsa1", k.rsa},
		{EdDSA, "ed1", k.ed}, {HS256, "hs1", k.hmac}, {HS384, "hs1", k.hmac}, {HS512, "hs1", k.hmac},
	}
	for _, tc := range cases {
		t.Run(tc.alg, func(t *testing.T) {
			tok := signRaw(t, tc.alg, tc.key, fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, tc.alg, tc.kid), claimsJSON(`"client_id":"c1","jti":"j1"`))
			c, err := verifyAndCheck(t, tok, &Policy{Issuers: []string{"https://idp.example"}, Audiences: []string{"api"}}, staticKeys(set))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if c.Subject != "alice" || c.ClientID != "c1" || c.JTI != "j1" || c.Key.ID != tc.kid || c.Alg != tc.alg {
				t.Fatalf("claims = %+v", c)
			}
			if !c.HasScope("read") || !c.HasScope("write") || c.HasScope("rea") {
				t.Fatalf("scopes = %v", c.Scopes)
			}
		})
	}
}

func TestVerifyRejectsHostileTokens(t *testing.T) {
	k := newTestKeys(t)
	set := k.set(t)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey))})
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.ec.PublicKey))})
	good := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(""))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + enc(claimsJSON(`"admin":true`)) + "." + parts[2]
	noneTok := enc(`{"alg":"none"}`) + "." + enc(claimsJSON("")) + "."

	cases := []struct {
		name   string
		tok    string
		policy Policy
		reason Reason
	}{
		{"alg none", noneTok, Policy{}, ReasonAlgorithm},
		{"alg none with signature", enc(`{"alg":"none"}`) + "." + enc(claimsJSON("")) + ".c2ln", Policy{}, ReasonAlgorithm},
		{"HS256 with RSA public key bytes", signRaw(t, HS256, rsaPEM, `{"alg":"HS256","kid":"rsa1"}`, claimsJSON("")), Policy{}, ReasonUnknownKey},
		{"HS256 with EC public key bytes, no kid", signRaw(t, HS256, ecPEM, `{"alg":"HS256"}`, claimsJSON("")), Policy{}, ReasonSignature},
		{"kid of a missing key", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"nope"}`, claimsJSON("")), Policy{}, ReasonUnknownKey},
		{"untrusted key with trusted kid", signRaw(t, ES256, k.other, `{"alg":"ES256","kid":"ec1"}`, claimsJSON("")), Policy{}, ReasonSignature},
		{"jku header", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1","jku":"https://evil.example/jwks"}`, claimsJSON("")), Policy{}, ReasonHeader},
		{"x5u header", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1","x5u":"https://evil.example/cert"}`, claimsJSON("")), Policy{}, ReasonHeader},
		{"jwk header", signRaw(t, ES256, k.other, `{"alg":"ES256","jwk":{"kty":"EC"}}`, claimsJSON("")), Policy{}, ReasonHeader},
		{"unknown crit", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1","crit":["exp"],"exp":1}`, claimsJSON("")), Policy{}, ReasonHeader},
		{"b64 false", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1","b64":false}`, claimsJSON("")), Policy{}, ReasonHeader},
		{"expired beyond leeway", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, fmt.Sprintf(`{"iss":"x","exp":%d}`, testNow.Unix()-31)), Policy{Leeway: 30 * time.Second}, ReasonExpired},
		{"not yet valid beyond leeway", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, fmt.Sprintf(`{"exp":%d,"nbf":%d}`, testNow.Unix()+600, testNow.Unix()+31)), Policy{Leeway: 30 * time.Second}, ReasonNotYetValid},
		{"issued in the future", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, fmt.Sprintf(`{"exp":%d,"iat":%d}`, testNow.Unix()+600, testNow.Unix()+120)), Policy{Leeway: 30 * time.Second}, ReasonNotYetValid},
		{"no exp", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, `{"sub":"a"}`), Policy{}, ReasonClaims},
		{"exp not a number", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, `{"exp":"1"}`), Policy{}, ReasonClaims},
		{"tampered payload", tampered, Policy{}, ReasonSignature},
		{"stripped signature", parts[0] + "." + parts[1] + ".", Policy{}, ReasonSignature},
		{"two segments", parts[0] + "." + parts[1], Policy{}, ReasonMalformed},
		{"non-base64url header", "eyJ+" + "." + parts[1] + "." + parts[2], Policy{}, ReasonMalformed},
		{"padded payload", parts[0] + "." + parts[1] + "==." + parts[2], Policy{}, ReasonMalformed},
		{"non-base64url signature", parts[0] + "." + parts[1] + ".a/b+", Policy{}, ReasonMalformed},
		{"duplicate claim", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(`"sub":"root"`)), Policy{}, ReasonMalformed},
		{"duplicate claim via escape", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(`"s\u0075b":"root"`)), Policy{}, ReasonMalformed},
		{"duplicate nested member", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(`"realm":{"r":1,"r":2}`)), Policy{}, ReasonMalformed},
		{"duplicate header", signRaw(t, ES256, k.ec, `{"alg":"ES256","alg":"HS256","kid":"ec1"}`, claimsJSON("")), Policy{}, ReasonMalformed},
		{"JWE five segments", "a.b.c.d.e", Policy{}, ReasonMalformed},
		{"nested JWT (cty)", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1","cty":"JWT"}`, claimsJSON("")), Policy{}, ReasonMalformed},
		{"JWE enc header", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1","enc":"A256GCM"}`, claimsJSON("")), Policy{}, ReasonHeader},
		{"algorithm not in allow-list", good, Policy{Algorithms: []string{RS256}}, ReasonAlgorithm},
		{"wrong issuer", good, Policy{Issuers: []string{"https://other"}}, ReasonIssuer},
		{"wrong audience", good, Policy{Audiences: []string{"billing"}}, ReasonAudience},
		{"oversized", good + strings.Repeat("A", 9000), Policy{}, ReasonOversized},
		{"payload not an object", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, `[1]`), Policy{}, ReasonMalformed},
		{"trailing garbage in payload", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON("")+"x"), Policy{}, ReasonMalformed},
		{"deeply nested payload", signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(`"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40))), Policy{}, ReasonMalformed},
		{"not a token", "hello", Policy{}, ReasonMalformed},
		{"empty", "", Policy{}, ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verifyAndCheck(t, tc.tok, &tc.policy, staticKeys(set))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T %v is not a *token.Error", err, err)
			}
			if te.Reason != tc.reason {
				t.Fatalf("reason = %s (%s), want %s", te.Reason, te.Description, tc.reason)
			}
			if strings.Contains(te.Error(), tc.tok) && tc.tok != "" {
				t.Fatal("error message contains the token")
			}
		})
	}
}

func TestVerifyWithinLeewayAccepted(t *testing.T) {
	k := newTestKeys(t)
	tok := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, fmt.Sprintf(`{"exp":%d,"nbf":%d}`, testNow.Unix()-20, testNow.Unix()+20))
	if _, err := verifyAndCheck(t, tok, &Policy{Leeway: 30 * time.Second}, staticKeys(k.set(t))); err != nil {
		t.Fatal(err)
	}
}

func TestKidlessTokensTryOnlyMatchingKeysBounded(t *testing.T) {
	k := newTestKeys(t)
	var keys []*Key
	for i := 0; i < 10; i++ {
		key, _ := NewKey("", "", &k.other.PublicKey, "decoy")
		keys = append(keys, key)
	}
	trusted, _ := NewKey("", "", &k.ec.PublicKey, "real")
	keys = append(keys, trusted)
	set := NewKeySet(keys...)
	tok := signRaw(t, ES256, k.ec, `{"alg":"ES256"}`, claimsJSON(""))
	// The real key is the 11th candidate: beyond the bound, so it is not tried.
	if _, err := verifyAndCheck(t, tok, &Policy{}, staticKeys(set)); err == nil {
		t.Fatal("kid-less token tried more than MaxKidlessCandidates keys")
	}
	if got := len(set.Lookup("", ES256)); got != MaxKidlessCandidates {
		t.Fatalf("Lookup returned %d candidates", got)
	}
	if got := len(set.Lookup("", RS256)); got != 0 {
		t.Fatalf("RS256 matched %d EC keys", got)
	}
	small := NewKeySet(trusted, keys[0])
	if _, err := verifyAndCheck(t, tok, &Policy{}, staticKeys(small)); err != nil {
		t.Fatalf("kid-less token with matching key rejected: %v", err)
	}
}

func TestRetiredKeyIsNotUsed(t *testing.T) {
	k := newTestKeys(t)
	set := k.set(t)
	tok := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(""))
	set.Lookup("ec1", ES256)[0].Retire()
	defer func() { sharedTestKeys = nil }()
	if _, err := verifyAndCheck(t, tok, &Policy{}, staticKeys(set)); err == nil {
		t.Fatal("retired key verified a token")
	}
}

func TestClaimPaths(t *testing.T) {
	k := newTestKeys(t)
	tok := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(`"realm_access":{"roles":["admin","dev"]},"a.b":"dotted","n":12345678901234567890,"scp":["x","y"]`))
	c, err := verifyAndCheck(t, tok, &Policy{}, staticKeys(k.set(t)))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Claim("realm_access.roles"); !ok || fmt.Sprint(v) != "[admin dev]" {
		t.Fatalf("realm_access.roles = %v %v", v, ok)
	}
	if v, ok := c.Claim("a.b"); !ok || v != "dotted" {
		t.Fatalf("a.b = %v", v)
	}
	if v, _ := c.Claim("n"); fmt.Sprint(v) != "12345678901234567890" {
		t.Fatalf("big number lost precision: %v", v)
	}
	if _, ok := c.Claim("realm_access.missing"); ok {
		t.Fatal("missing claim found")
	}
	if !c.HasScope("x") || !c.HasScope("read") {
		t.Fatalf("scp not merged: %v", c.Scopes)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// partialResolver offers fallback keys while reporting that the set that may
// hold the token's own key could not be fetched.
type partialResolver struct{ fallback []*Key }

func (p partialResolver) ResolveKeys(context.Context, string, string) ([]*Key, error) {
	return p.fallback, fmt.Errorf("jwks down: %w", ErrKeysUnavailable)
}

// A kid-less fallback key (a PEM next to a JWKS that is down) still verifies
// its own tokens, but a token it does not verify is "unavailable" (503,
// retry), not "bad signature": its key may be in the set we lack.
func TestFallbackKeysWhileSourceUnavailable(t *testing.T) {
	k := newTestKeys(t)
	pem, err := NewKey("", "", &k.ec.PublicKey, "pem")
	if err != nil {
		t.Fatal(err)
	}
	keys := func(string) (KeyResolver, error) { return partialResolver{[]*Key{pem}}, nil }
	p := &Policy{}
	own := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"rotated"}`, claimsJSON(""))
	if _, err := VerifySignature(context.Background(), own, p, keys); err != nil {
		t.Fatalf("the fallback key's own token: %v", err)
	}
	other := signRaw(t, ES256, k.other, `{"alg":"ES256","kid":"rotated"}`, claimsJSON(""))
	_, err = VerifySignature(context.Background(), other, p, keys)
	var te *Error
	if !errors.As(err, &te) || te.Reason != ReasonKeysUnavailable {
		t.Fatalf("a token no fallback key verifies while the set is down: %v, want %s", err, ReasonKeysUnavailable)
	}
}
