package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
	"github.com/authgate/caddy-authgate/token"
)

var gwNow = time.Unix(1_800_000_000, 0)

type signer struct {
	alg, kid string
	key      any
}

func (s signer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return testutil.MustSignJWT(t, s.key, map[string]string{"alg": s.alg, "kid": s.kid, "typ": "JWT"}, claims)
}

func baseClaims(extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://idp.example", "sub": "alice", "aud": "api",
		"exp": gwNow.Unix() + 3600, "iat": gwNow.Unix(), "scope": "orders:read orders:write",
		"client_id": "svc-1", "email": "alice@example.com",
		"realm_access": map[string]any{"roles": []string{"admin", "dev"}},
		"n":            42,
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// ecFixture is an ES256 key pair trusted through a static key set.
func ecFixture(t testing.TB) (signer, *token.KeySet) {
	t.Helper()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, err := token.NewKey("k1", "", &priv.PublicKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	return signer{alg: token.ES256, kid: "k1", key: priv}, token.NewKeySet(k)
}

func staticKeys(s *token.KeySet) token.IssuerKeys {
	return func(string) (token.KeyResolver, error) { return s, nil }
}

func newGateway(t testing.TB, set *token.KeySet, mutate func(*Config)) *Gateway {
	t.Helper()
	cfg := Config{
		Policy:  token.Policy{Issuers: []string{"https://idp.example"}, Audiences: []string{"api"}, Leeway: 30 * time.Second},
		Keys:    staticKeys(set),
		Headers: []HeaderMapping{{Name: "X-User", Claim: "sub"}, {Name: "x-email", Claim: "email"}},
		Cache:   NewCache(100),
		Now:     func() time.Time { return gwNow },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func request(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.example/orders?x=1", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

var loopback = netip.MustParseAddr("127.0.0.1")

// unavailable is a key source that never fetched anything.
type unavailable struct{}

func (unavailable) ResolveKeys(context.Context, string, string) ([]*token.Key, error) {
	return nil, retryErr{}
}

type retryErr struct{}

func (retryErr) Error() string          { return "never fetched" }
func (retryErr) Is(t error) bool        { return errors.Is(t, token.ErrKeysUnavailable) }
func (retryErr) RetryAfterSeconds() int { return 7 }
