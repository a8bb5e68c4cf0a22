package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// Identity assertion defaults.
const (
	// AssertionTTL is the lifetime of an identity_header JWT.
	AssertionTTL = 2 * time.Minute
	// AssertionJWKSPath publishes the keys that verify identity_header JWTs.
	AssertionJWKSPath = "/.well-known/authgate/jwks.json"
	// maxAssertions bounds the cache of signed assertions.
	maxAssertions = 10_000
)

// AssertionKeys returns the gateway's signing key and the JWKS document
// (JSON) that publishes its public half; the module keeps the key in the
// store.
type AssertionKeys func(ctx context.Context) (*token.Signer, []byte, error)

// Assertion signs the caller's identity into a short-lived JWT sent
// upstream in Header (Pomerium's X-Pomerium-Jwt-Assertion, for apps that
// verify): iss is the gateway's origin, aud the request's host (or
// Audience), sub and the claims that header mappings name.
type Assertion struct {
	Header   string
	Audience string // "" means the request's host
	Keys     AssertionKeys
	Claims   []string // claim paths copied into the JWT
	Now      func() time.Time

	cache sync.Map // assertionKey -> *signedAssertion
	n     atomic.Int64
}

type assertionKey struct {
	claims *token.Claims // stable per cached token and per live session
	origin string
}

type signedAssertion struct {
	jwt   string
	renew int64 // unix: sign a new one from then on
}

// withAssertion adds the identity JWT to an authorized request.
func (g *Gateway) withAssertion(r *http.Request, d Decision, e *Error) (Decision, *Error) {
	if e != nil || g.cfg.Assertion == nil || d.Claims == nil {
		return d, e
	}
	jwt, err := g.cfg.Assertion.sign(r, d.Claims)
	if err != nil {
		return Decision{}, &Error{Status: http.StatusServiceUnavailable, Reason: ReasonStoreDown, Description: "identity assertion key unavailable", RetryAfter: 5, Err: err}
	}
	r.Header[g.cfg.Assertion.Header] = []string{jwt}
	return d, nil
}

func (a *Assertion) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Assertion) sign(r *http.Request, c *token.Claims) (string, error) {
	now := a.now()
	k := assertionKey{claims: c, origin: origin(r)}
	if v, ok := a.cache.Load(k); ok {
		if s := v.(*signedAssertion); now.Unix() < s.renew {
			return s.jwt, nil
		}
	}
	signer, _, err := a.Keys(r.Context())
	if err != nil {
		return "", err
	}
	aud := a.Audience
	if aud == "" {
		aud = r.Host
	}
	exp := now.Add(AssertionTTL).Unix()
	if c.ExpiresAt != 0 && c.ExpiresAt < exp {
		exp = c.ExpiresAt // never outlives the identity it asserts
	}
	m := map[string]any{"iss": k.origin, "aud": aud, "sub": c.Subject, "iat": now.Unix(), "exp": exp}
	if c.Issuer != "" {
		m["idp"] = c.Issuer
	}
	for _, path := range a.Claims {
		if _, taken := m[path]; taken {
			continue
		}
		if v, ok := c.Claim(path); ok && v != nil {
			m[path] = v
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	jwt, err := signer.Sign(token.TypJWT, payload)
	if err != nil {
		return "", err
	}
	if a.n.Add(1) > maxAssertions {
		a.cache.Clear()
		a.n.Store(0)
	}
	a.cache.Store(k, &signedAssertion{jwt: jwt, renew: now.Unix() + (exp-now.Unix())/2})
	return jwt, nil
}

// ServeJWKS publishes the assertion keys.
func (a *Assertion) ServeJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_, doc, err := a.Keys(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}
