package issuer

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

// JWT client authentication (RFC 7523 §2.2, RFC 7521 §4.2, OpenID Connect
// Core §9): the client signs an assertion, with its private key
// (private_key_jwt) or its secret (client_secret_jwt).
const (
	// ClientAssertionTypeJWT is the only client_assertion_type accepted.
	ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// MaxAssertionLifetime is how far in the future an assertion's exp may
	// be: a long-lived assertion is a bearer credential.
	MaxAssertionLifetime = 5 * time.Minute
	// assertionLeeway is the clock skew allowed on exp, nbf and iat.
	assertionLeeway = 30 * time.Second
	// maxAssertionBytes bounds an assertion; longer ones are refused
	// before any decoding.
	maxAssertionBytes = 8 << 10
	// maxJTIBytes bounds an assertion's jti (it becomes a store key).
	maxJTIBytes = 256
)

// asymmetricAlgs and hmacAlgs are the algorithm allow-lists of the two
// methods: a private_key_jwt assertion is never verified with HMAC (the
// public key is no secret), a client_secret_jwt one only with HMAC.
var (
	asymmetricAlgs = []string{token.RS256, token.RS384, token.RS512, token.PS256, token.PS384, token.PS512,
		token.ES256, token.ES384, token.ES512, token.EdDSA}
	hmacAlgs = []string{token.HS256, token.HS384, token.HS512}
)

type privateKeyJWT struct{}

func (privateKeyJWT) name() string { return AuthPrivateKeyJWT }

func (privateKeyJWT) present(r *http.Request, f form) (*clientCredentials, *oauthError) {
	return presentAssertion(r, f, false)
}

func (privateKeyJWT) verify(i *Issuer, _ *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error) {
	if c == nil || c.strong == nil {
		i.verifyDummyAssertion(cr, asymmetricAlgs)
		return false, nil
	}
	return i.verifyAssertion(c, cr, now, i.clientKeys(c.strong), asymmetricAlgs), nil
}

type clientSecretJWT struct{}

func (clientSecretJWT) name() string { return AuthClientSecretJWT }

func (clientSecretJWT) present(r *http.Request, f form) (*clientCredentials, *oauthError) {
	return presentAssertion(r, f, true)
}

func (clientSecretJWT) verify(i *Issuer, _ *clientSnapshot, c *client, cr *clientCredentials, now time.Time) (bool, error) {
	if c == nil || c.strong == nil || len(c.strong.hmac) == 0 {
		i.verifyDummyAssertion(cr, hmacAlgs)
		return false, nil
	}
	var keys []*token.Key
	for _, s := range c.strong.hmac {
		if s.expires.IsZero() || now.Before(s.expires) {
			keys = append(keys, s.key)
		}
	}
	return i.verifyAssertion(c, cr, now, token.NewKeySet(keys...), hmacAlgs), nil
}

// presentAssertion reads client_assertion(_type). The two JWT methods share
// the parameters and are told apart by the assertion's alg: HS* is
// client_secret_jwt (hmac true), anything else private_key_jwt. The client
// is the assertion's iss (it must equal client_id when that is sent).
func presentAssertion(r *http.Request, f form, hmac bool) (*clientCredentials, *oauthError) {
	a, typ := f.get("client_assertion"), f.get("client_assertion_type")
	if a == "" && typ == "" {
		return nil, nil
	}
	if typ != ClientAssertionTypeJWT {
		return nil, invalidRequest("client_assertion_type must be " + ClientAssertionTypeJWT)
	}
	if a == "" {
		return nil, invalidRequest("missing client_assertion")
	}
	if len(r.Header.Values("Authorization")) > 0 || f.get("client_secret") != "" {
		return nil, invalidRequest("client authenticated by both an assertion and a secret")
	}
	alg, kid, iss, err := token.PeekJWT(a, maxAssertionBytes)
	if err != nil || iss == "" {
		return nil, newError(http.StatusUnauthorized, errInvalidClient, "malformed client assertion")
	}
	if token.IsHMAC(alg) != hmac {
		return nil, nil
	}
	if id := f.get("client_id"); id != "" && id != iss {
		return nil, invalidRequest("client_id does not match the client assertion")
	}
	return &clientCredentials{clientID: iss, assertion: a, alg: alg, kid: kid, endpoint: r.URL.EscapedPath()}, nil
}

// verifyAssertion checks an assertion of c: signature by one of keys under
// an algorithm of algs, iss = sub = client id, aud, exp (required, at most
// MaxAssertionLifetime ahead), nbf and iat, allowed kids, and, with
// validate_jti, that its jti was never used before (atomically in the
// store, until exp, so two instances sharing it accept it once).
func (i *Issuer) verifyAssertion(c *client, cr *clientCredentials, now time.Time, keys token.KeyResolver, algs []string) bool {
	sa := c.strong
	refuse := func(reason string) bool {
		i.logger.LogAttrs(cr.ctx, slog.LevelInfo, "client assertion refused",
			slog.String("client_id", truncate(c.id, 64)), slog.String("reason", reason))
		return false
	}
	if len(sa.allowedKids) > 0 && !slices.Contains(sa.allowedKids, cr.kid) {
		return refuse("kid not allowed")
	}
	if keys == nil {
		return refuse("no key")
	}
	policy := token.Policy{Issuers: []string{c.id}, Algorithms: algs, MaxTokenBytes: maxAssertionBytes, Leeway: assertionLeeway}
	claims, err := token.VerifySignature(cr.ctx, cr.assertion, &policy, func(string) (token.KeyResolver, error) { return keys, nil })
	if err != nil {
		return refuse("assertion not verified: " + err.Error())
	}
	if len(sa.allowedKids) > 0 && !slices.Contains(sa.allowedKids, claims.Key.ID) {
		return refuse("verifying key's kid not allowed")
	}
	if strings.TrimPrefix(strings.ToLower(claims.Typ), "application/") == token.TypAccessToken {
		// An access token is never a client assertion (other explicitly
		// typed JWTs were refused by the verifier).
		return refuse("typ declares an access token")
	}
	if claims.Subject != c.id || claims.Issuer != c.id {
		return refuse("iss and sub must be the client id")
	}
	if !slices.ContainsFunc(claims.Audience, i.assertionAudience(cr.endpoint)) {
		return refuse("aud names neither the token endpoint nor the issuer")
	}
	unix, leeway := now.Unix(), int64(assertionLeeway/time.Second)
	switch {
	case claims.ExpiresAt+leeway <= unix:
		return refuse("assertion expired")
	case claims.ExpiresAt > unix+int64(MaxAssertionLifetime/time.Second)+leeway:
		return refuse("assertion exp is more than 5 minutes ahead")
	case claims.NotBefore > unix+leeway, claims.IssuedAt > unix+leeway:
		return refuse("assertion not valid yet")
	case claims.JTI == "" || len(claims.JTI) > maxJTIBytes:
		return refuse("assertion without a usable jti")
	}
	if sa.validateJTI {
		until := time.Unix(claims.ExpiresAt+leeway, 0)
		first, err := i.store.MarkUsed(context.WithoutCancel(cr.ctx), assertionMarker(i.iss, c.id, claims.JTI), until)
		if err != nil {
			return refuse("replay store unavailable: " + err.Error())
		}
		if !first {
			return refuse("assertion jti replayed")
		}
	}
	return true
}

// assertionMarker is the replay-store key of an assertion jti: scoped to
// the issuer and client (a jti is unique per issuer, RFC 7519 §4.1.7).
func assertionMarker(iss, clientID, jti string) string {
	return "client-assertion\x00" + iss + "\x00" + clientID + "\x00" + jti
}

// assertionAudience accepts the audiences RFC 7523 §3 and OpenID Connect
// Core §9 allow: the issuer, its token endpoint, and the endpoint the
// assertion was sent to (introspection, revocation).
func (i *Issuer) assertionAudience(endpoint string) func(string) bool {
	tokenURL := i.origin + i.prefix + "/token"
	ownURL := i.origin + endpoint
	return func(aud string) bool {
		return aud == i.iss || aud == tokenURL || aud == ownURL
	}
}

// clientKeys is the key resolver of a keyed client: its JWKS (the cache
// refetches on an unknown kid) with its configured keys, or nil.
func (i *Issuer) clientKeys(sa *strongAuth) token.KeyResolver {
	if sa.jwksURI == "" {
		if sa.keys == nil {
			return nil
		}
		return sa.keys
	}
	if i.jwks == nil {
		return nil
	}
	return clientKeySet{static: sa.keys, remote: i.jwks.JWKS(sa.jwksURI, i.jwksOpts)}
}

// clientKeySet asks the configured keys by kid first, then the JWKS.
type clientKeySet struct {
	static *token.KeySet
	remote *jwkscache.Source
}

func (s clientKeySet) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if keys := s.static.LookupKid(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	return s.remote.ResolveKeys(ctx, kid, alg)
}
