package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/authgate/caddy-authgate/token"
)

// Hashes of "s3cret-value" (bcrypt cost 4, argon2id m=8MiB t=1 p=1).
const (
	testBcrypt   = "$2a$04$FVzVNxAjeWcBYx79N/jz1OeL.Ch/0.fiurZlQCzpNkJ.FQcZwOdVK"
	testArgon2id = "$argon2id$v=19$m=8192,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4"
)

func jwksKids(t *testing.T, e *testEnv) []string {
	t.Helper()
	r := e.do("GET", PathJWKS, nil, "", "")
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.raw), &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		if _, ok := k["d"]; ok {
			t.Fatal("private key material in the JWKS")
		}
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

// verifyWithResolver checks a token the way an in-process gateway would.
func verifyWithResolver(t *testing.T, e *testEnv, tok string) bool {
	t.Helper()
	hdr, _ := decodeJWT(t, tok)
	keys, err := e.iss.ResolveKeys(context.Background(), hdr["kid"].(string), hdr["alg"].(string))
	if err != nil {
		return false
	}
	last := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[last+1:])
	for _, k := range keys {
		if jwsbb.Verify(k.Material, hdr["alg"].(string), []byte(tok[:last]), sig) == nil {
			return true
		}
	}
	return false
}

func TestKeysPersistAcrossRestarts(t *testing.T) {
	e := newEnv(t, nil)
	kid := e.iss.SigningKeyID()
	tok := e.token("app", "app-secret", nil)
	e2 := newEnvOn(t, e.store, e.clock, nil)
	if e2.iss.SigningKeyID() != kid {
		t.Fatalf("restart generated a new key: %s vs %s", e2.iss.SigningKeyID(), kid)
	}
	if in := e2.introspect(tok, "app", "app-secret"); in["active"] != true {
		t.Fatalf("token from before the restart: %v", in)
	}
	keys, _ := e.store.SigningKeys(context.Background(), e.iss.IssuerURL())
	if len(keys) != 1 {
		t.Fatalf("%d stored keys", len(keys))
	}
}

func TestKeyRotationSchedule(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyRotation = 4 * time.Hour })
	ctx := context.Background()
	lead := e.iss.JWKSMaxAge()
	if lead != 5*time.Minute {
		t.Fatalf("lead %s", lead)
	}
	k1 := e.iss.SigningKeyID()
	old := e.token("app", "app-secret", nil)
	oldKey := e.iss.keys.current(ctx).set.Lookup(k1, "ES256")[0]

	// Just before rotation-lead: nothing new.
	e.clock.Advance(4*time.Hour - lead - time.Second)
	if kids := jwksKids(t, e); len(kids) != 1 {
		t.Fatalf("early: %v", kids)
	}
	// At rotation-lead: a new key is published but does not sign yet.
	e.clock.Advance(time.Second)
	kids := jwksKids(t, e)
	if len(kids) != 2 || kids[0] != k1 {
		t.Fatalf("pending key not published: %v", kids)
	}
	k2 := kids[1]
	if e.iss.SigningKeyID() != k1 {
		t.Fatal("new key signs before it was published for the lead time")
	}
	if _, h := decodeJWT(t, e.token("app", "app-secret", nil)); h == nil {
		t.Fatal()
	}
	// After the lead: the new key signs, the old one is still published.
	e.clock.Advance(lead)
	tok2 := e.token("app", "app-secret", nil)
	if hdr, _ := decodeJWT(t, tok2); hdr["kid"] != k2 {
		t.Fatalf("signing with %v, want %s", hdr["kid"], k2)
	}
	if kids := jwksKids(t, e); !slices.Equal(kids, []string{k1, k2}) {
		t.Fatalf("overlap: %v", kids)
	}
	if !verifyWithResolver(t, e, old) || !verifyWithResolver(t, e, tok2) {
		t.Fatal("old or new token does not verify during the overlap")
	}
	stored, _ := e.store.SigningKeys(ctx, e.iss.IssuerURL())
	for _, k := range stored {
		if k.ID == k1 && (k.RetiredAt.IsZero() || !k.ExpiresAt.Equal(k.RetiredAt.Add(time.Hour+keyExpirySkew))) {
			t.Fatalf("old key not retired correctly: %+v", k)
		}
	}
	// Once every token of the old key has expired, it leaves the JWKS and
	// in-process verifiers drop it.
	e.clock.Advance(time.Hour + keyExpirySkew)
	if kids := jwksKids(t, e); !slices.Equal(kids, []string{k2}) {
		t.Fatalf("after expiry: %v", kids)
	}
	if !oldKey.Retired() {
		t.Fatal("expired key not retired for in-process caches")
	}
	// A restart sees the same schedule.
	e2 := newEnvOn(t, e.store, e.clock, func(c *Config) { c.KeyRotation = 4 * time.Hour })
	if e2.iss.SigningKeyID() != k2 {
		t.Fatal("restart changed the signing key")
	}
}

func TestRotationInBackground(t *testing.T) {
	// Run must rotate without any issuance traffic, on its own timer (the
	// bubble's clock: synctest advances it once every goroutine waits).
	synctest.Test(t, func(t *testing.T) {
		db := openStore(t, &fakeClock{t: time.Now()})
		cfg := baseConfig()
		cfg.Store = db
		cfg.KeyRotation = 2 * time.Second
		iss, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go iss.Run(ctx)
		k1 := iss.keys.state.Load().signer.KeyID()
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			st := iss.keys.state.Load()
			if st.signer.KeyID() != k1 && slices.Contains(st.kids, k1) {
				return
			}
		}
		t.Fatalf("no background rotation within 5s: kids %v", iss.keys.state.Load().kids)
	})
}

func TestSigningAlgorithms(t *testing.T) {
	for _, alg := range []string{token.ES256, token.ES384, token.RS256, token.RS384, token.RS512, token.PS256, token.EdDSA, token.HS256, token.HS384, token.HS512} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.SigningAlg = alg })
			tok := e.token("app", "app-secret", nil)
			hdr, _ := decodeJWT(t, tok)
			if hdr["alg"] != alg {
				t.Fatalf("alg %v", hdr["alg"])
			}
			if !verifyWithResolver(t, e, tok) {
				t.Fatal("token does not verify with the issuer's keys")
			}
			if in := e.introspect(tok, "app", "app-secret"); in["active"] != true {
				t.Fatal("own token inactive")
			}
			kids := jwksKids(t, e)
			if token.IsHMAC(alg) != (len(kids) == 0) {
				t.Fatalf("JWKS kids %v for %s", kids, alg)
			}
			md := e.do("GET", PathASMetadata, nil, "", "")
			if _, has := md.body["jwks_uri"]; has == token.IsHMAC(alg) {
				t.Fatalf("jwks_uri presence wrong for %s", alg)
			}
		})
	}
}

func TestSigningAlgChange(t *testing.T) {
	e := newEnv(t, nil)
	k1 := e.iss.SigningKeyID()
	e2 := newEnvOn(t, e.store, e.clock, func(c *Config) { c.SigningAlg = token.EdDSA })
	if e2.iss.SigningKeyID() != k1 {
		t.Fatal("new algorithm signs before being published")
	}
	if kids := jwksKids(t, e2); len(kids) != 2 {
		t.Fatalf("kids %v", kids)
	}
	e2.clock.Advance(e2.iss.JWKSMaxAge())
	tok := e2.token("app", "app-secret", nil)
	if hdr, _ := decodeJWT(t, tok); hdr["alg"] != "EdDSA" {
		t.Fatalf("alg %v", hdr["alg"])
	}
}

func TestIntrospectionForeignIssuer(t *testing.T) {
	a := newEnv(t, nil)
	b := newEnv(t, nil)
	tok := a.token("app", "app-secret", nil)
	if in := b.introspect(tok, "app", "app-secret"); in["active"] != false {
		t.Fatal("another issuer's token is active")
	}
	f := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {tok}, "subject_token_type": {TokenTypeAccessToken}}
	wantOAuthError(t, b.do("POST", "/oauth/token", f, "app", "app-secret"), 400, errInvalidRequest)
}
