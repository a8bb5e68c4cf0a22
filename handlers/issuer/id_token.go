package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"slices"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// Standard claims released by scope (OpenID Connect Core §5.4).
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// idTokenClaimNames are the claims of every ID token (claims_supported
// lists them with scopeClaims').
var idTokenClaimNames = []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "sid"}

// userClaims returns the user's claims that scopes release.
func userClaims(u *User, scopes []string) map[string]any {
	out := map[string]any{}
	if u == nil {
		return out
	}
	for _, s := range scopes {
		for _, name := range scopeClaims[s] {
			if v, ok := u.Claims[name]; ok {
				out[name] = v
			}
		}
	}
	return out
}

// idClaims are an ID token's registered claims (OpenID Connect Core §2).
type idClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	AZP      string `json:"azp"`
	Expires  int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	ATHash   string `json:"at_hash,omitempty"`
	SID      string `json:"sid,omitempty"`
}

// mintIDToken signs the ID token of a user's token response. It carries no
// client_id and no jti: an in-process gateway refuses it as an access token
// (Admit), and with the RS256 key next to another signing_alg it does not
// even verify there.
func (i *Issuer) mintIDToken(ctx context.Context, m *mintRequest, accessToken string, now time.Time) (string, error) {
	signer, err := i.idSigner(ctx, m.client)
	if err != nil {
		return "", err
	}
	p := m.person
	iat := now.Unix()
	ic := idClaims{
		Issuer: i.iss, Subject: m.subject, Audience: m.client.id, AZP: m.client.id,
		Expires: iat + int64(m.client.ttl/time.Second), IssuedAt: iat, AuthTime: p.authTime.Unix(),
		Nonce: p.nonce, SID: p.sessionID, ATHash: atHash(signer.Alg(), accessToken),
	}
	b, err := json.Marshal(ic)
	if err != nil {
		return "", err
	}
	extra := userClaims(p.user, m.scopes)
	if len(extra) > 0 {
		names := make([]string, 0, len(extra))
		for k := range extra {
			names = append(names, k)
		}
		slices.Sort(names)
		b = b[:len(b)-1]
		for _, k := range names {
			kb, _ := json.Marshal(k)
			vb, err := json.Marshal(extra[k])
			if err != nil {
				return "", err
			}
			b = append(append(append(append(b, ','), kb...), ':'), vb...)
		}
		b = append(b, '}')
	}
	return signer.Sign(token.TypJWT, b)
}

// idSigner is the key that signs c's ID tokens: the RS256 ID-token key, or
// the signing key when it has the client's algorithm.
func (i *Issuer) idSigner(ctx context.Context, c *client) (*token.Signer, error) {
	alg := c.idTokenAlg
	if alg == "" {
		alg = token.RS256
	}
	if s := i.keys.current(ctx).signer; s.Alg() == alg {
		return s, nil
	}
	if i.idKeys != nil && alg == token.RS256 {
		if st := i.idKeys.current(ctx); st != nil {
			return st.signer, nil
		}
	}
	return nil, errors.New("no key for the client's id_token_signed_response_alg " + alg)
}

// atHash is OpenID Connect Core §3.1.3.6's at_hash: the left half of the
// access token's hash with the ID token's algorithm's hash function
// (SHA-512 for EdDSA over Ed25519).
func atHash(alg, accessToken string) string {
	var h hash.Hash
	switch alg {
	case token.ES384, token.RS384:
		h = sha512.New384()
	case token.RS512, token.EdDSA:
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
