package issuer

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/store/memory"
)

// Every issuer of a Caddy shares one store: an opaque token minted by one
// issuer must never be accepted, introspected or revoked by another issuer
// that happens to have a client with the same client_id.
func TestOpaqueTokenBoundToIssuer(t *testing.T) {
	a := newEnv(t, nil)
	b := newEnvOn(t, a.store, a.clock, func(c *Config) { c.Issuer = "https://tenant-b.example.com" })
	r := a.do("POST", "/oauth/token", url.Values{"grant_type": {GrantClientCredentials}}, "opq", "opq-secret")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	tok := r.body["access_token"].(string)

	if c, err := b.iss.LookupOpaque(context.Background(), tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("issuer B resolved issuer A's opaque token: %+v %v", c, err)
	}
	if in := b.introspect(tok, "opq", "opq-secret"); in["active"] != false {
		t.Fatalf("issuer B introspects A's token as active: %v", in)
	}
	f := url.Values{"grant_type": {GrantTokenExchange}, "subject_token": {tok}, "subject_token_type": {TokenTypeAccessToken}}
	wantOAuthError(t, b.do("POST", "/oauth/token", f, "opq", "opq-secret"), 400, errInvalidRequest)
	// B's client cannot revoke A's token either.
	if r := b.do("POST", "/oauth/revoke", url.Values{"token": {tok}}, "opq", "opq-secret"); r.status != 200 {
		t.Fatalf("revoke at B: %d", r.status)
	}
	if c, err := a.iss.LookupOpaque(context.Background(), tok); err != nil || c.Issuer != testIss {
		t.Fatalf("issuer A lost its token: %+v %v", c, err)
	}
}

// RFC 8414 §2/§3: the metadata's endpoint URLs must be where the issuer
// answers, also when the issuer URL ends with a slash or has a path.
func TestMetadataEndpointsWithIssuerPath(t *testing.T) {
	for _, iss := range []string{"https://auth.example.com/", "https://auth.example.com/tenant/", "https://auth.example.com:8443/a/b"} {
		t.Run(iss, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Issuer = iss })
			u, _ := url.Parse(iss)
			md := e.do("GET", PathASMetadata+strings.TrimSuffix(u.Path, "/"), nil, "", "")
			if md.status != 200 || md.body["issuer"] != iss {
				t.Fatalf("metadata %d %s", md.status, md.raw)
			}
			if oidc := e.do("GET", strings.TrimSuffix(u.Path, "/")+PathOIDCMetadata, nil, "", ""); oidc.raw != md.raw {
				t.Fatalf("OpenID configuration differs: %s", oidc.raw)
			}
			for _, k := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"} {
				s, _ := md.body[k].(string)
				u, err := url.Parse(s)
				if err != nil || u.Scheme != "https" || !strings.HasPrefix(iss, "https://"+u.Host+"/") || !e.iss.Owns(u.Path) {
					t.Errorf("%s = %q is not served by the issuer", k, s)
				}
			}
		})
	}
}

// flakyStore fails signing-key reads and writes while down is set.
type flakyStore struct {
	*memory.Store
	down atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) SigningKeys(ctx context.Context, issuer string) ([]store.SigningKey, error) {
	if s.down.Load() {
		return nil, errStoreDown
	}
	return s.Store.SigningKeys(ctx, issuer)
}

func (s *flakyStore) UpdateSigningKeys(ctx context.Context, issuer string, fn func([]store.SigningKey) ([]store.SigningKey, error)) ([]store.SigningKey, error) {
	if s.down.Load() {
		return nil, errStoreDown
	}
	return s.Store.UpdateSigningKeys(ctx, issuer, fn)
}

// When the store is unavailable at a new key's activation time, the old key
// keeps signing (fail safe); it must then stay published until the tokens it
// signed during the outage have expired, not only until successor.ActiveAt
// + TTL.
func TestRetiredKeyOutlivesTokensSignedDuringRefreshOutage(t *testing.T) {
	clock := newClock()
	fs := &flakyStore{Store: openStore(t, clock)}
	cfg := baseConfig()
	cfg.Now = clock.Now
	cfg.KeyRotation = 4 * time.Hour
	iss, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.Open(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, iss: iss, clock: clock, ip: newEnv(t, nil).ip}
	k1 := iss.SigningKeyID()
	lead := iss.JWKSMaxAge()
	clock.Advance(4*time.Hour - lead)
	if kids := jwksKids(t, e); len(kids) != 2 {
		t.Fatalf("pending key not published: %v", kids)
	}
	// The store goes down across the activation time: tokens are still
	// issued, with the old key.
	fs.down.Store(true)
	clock.Advance(lead + 10*time.Minute)
	late := e.token("app", "app-secret", nil)
	if hdr, _ := decodeJWT(t, late); hdr["kid"] != k1 {
		t.Fatalf("signed with %v during the outage, want the old key %s", hdr["kid"], k1)
	}
	fs.down.Store(false)
	clock.Advance(10 * time.Second)
	if hdr, _ := decodeJWT(t, e.token("app", "app-secret", nil)); hdr["kid"] == k1 {
		t.Fatal("old key still signs after the store recovered")
	}
	// Just before the late token expires, it must still verify.
	clock.Advance(time.Hour - 20*time.Second)
	if !verifyWithResolver(t, e, late) {
		t.Fatal("a token signed by the old key during the outage no longer verifies before its exp")
	}
	if in := e.introspect(late, "app", "app-secret"); in["active"] != true {
		t.Fatalf("late token inactive before exp: %v", in)
	}
}

// An argon2id hash whose parameters would make every authentication attempt
// allocate terabytes is a configuration error, not a crash at first use.
func TestArgon2idParameterBounds(t *testing.T) {
	for _, h := range []string{
		"$argon2id$v=19$m=4294967295,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4",
		"$argon2id$v=19$m=8192,t=4294967295,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MVAaizvK46UCka3zeyeD0zOSx+f+9MAWWuyq/jc/jp4",
	} {
		if _, err := parseSecretHash(h); err == nil {
			t.Errorf("accepted %s", h)
		}
	}
	if _, err := parseSecretHash(testArgon2id); err != nil {
		t.Fatal(err)
	}
}
