package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// asymmetricAlgorithms are the ID token algorithms allowed by default: an
// external provider's HMAC key would be our client secret, which we do not
// accept as a signing key.
var asymmetricAlgorithms = []string{
	token.ES256, token.ES384, token.ES512, token.RS256, token.RS384, token.RS512,
	token.PS256, token.PS384, token.PS512, token.EdDSA,
}

// verifyIDToken checks an ID token through the same verifier bearer tokens
// use (signature by the provider's keys, algorithm allow-list, iss, aud,
// exp, iat), then what OpenID Connect Core §3.1.3.7 adds: azp, nonce and
// at_hash. nonce "" skips the nonce check (refresh responses, §12.2).
func (l *Login) verifyIDToken(ctx context.Context, raw, nonce, accessToken string, now time.Time) (*token.Claims, error) {
	algs := l.cfg.Algorithms
	if len(algs) == 0 {
		algs = asymmetricAlgorithms
	}
	p := token.Policy{Algorithms: algs, Issuers: []string{l.cfg.Issuer}, Audiences: []string{l.cfg.ClientID}, Leeway: l.cfg.Leeway}
	c, err := token.VerifySignature(ctx, raw, &p, func(string) (token.KeyResolver, error) { return l.cfg.IDTokenKeys() })
	if err != nil {
		return nil, err
	}
	if te := p.Check(c, now); te != nil {
		return nil, te
	}
	if strings.EqualFold(strings.TrimPrefix(strings.ToLower(c.Typ), "application/"), "at+jwt") {
		return nil, errors.New("an access token is not an ID token")
	}
	if c.Subject == "" {
		return nil, errors.New("ID token has no sub")
	}
	claims, err := c.Raw()
	if err != nil {
		return nil, err
	}
	azp, hasAzp := claims["azp"].(string)
	if (len(c.Audience) > 1 && !hasAzp) || (hasAzp && azp != l.cfg.ClientID) {
		return nil, errors.New("ID token azp is not this client")
	}
	if _, present := claims["azp"]; present && !hasAzp {
		return nil, errors.New("ID token azp is not a string")
	}
	if nonce != "" {
		got, _ := claims["nonce"].(string)
		if subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
			return nil, errors.New("ID token nonce does not match the sign-in attempt")
		}
	}
	if v, present := claims["at_hash"]; present {
		want, ok := v.(string)
		if !ok || accessToken == "" {
			return nil, errors.New("ID token at_hash cannot be checked")
		}
		got, err := tokenHash(c.Alg, accessToken)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, errors.New("ID token at_hash does not match the access token")
		}
	}
	return c, nil
}

// tokenHash is at_hash: the left half of the hash of the token's ASCII,
// base64url, with the hash of the ID token's algorithm (SHA-512 for
// Ed25519).
func tokenHash(alg, tok string) (string, error) {
	var h hash.Hash
	switch {
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "512"), alg == token.EdDSA:
		h = sha512.New()
	default:
		return "", fmt.Errorf("no at_hash for algorithm %s", alg)
	}
	h.Write([]byte(tok))
	sum := h.Sum(nil)
	return b64url.EncodeToString(sum[:len(sum)/2]), nil
}

// maxUserinfo bounds the userinfo response read.
const maxUserinfo = 64 << 10

// userinfo fetches the signed-in user's claims (JSON responses only; a
// signed or encrypted userinfo JWT is not used).
func (l *Login) userinfo(ctx context.Context, endpoint, accessToken string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := l.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("userinfo: %s", resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("userinfo: content type %q is not JSON", mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserinfo+1))
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if len(body) > maxUserinfo {
		return nil, errors.New("userinfo: response too large")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	return m, nil
}
