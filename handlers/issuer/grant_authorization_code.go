package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// authorizationCodeGrant implements RFC 6749 §4.1.3 with PKCE (RFC 7636,
// S256 only). A code is 256 random bits (43 base64url characters), stored
// under codeHash, redeemed once (store.CodeStore.RedeemCode gives one
// winner across instances) within 60 s of its issue (RedeemBy), by the
// client it was issued to, with the same redirect_uri and the verifier of
// its challenge. A second redemption is refused and revokes everything the
// first one issued (RFC 6749 §4.1.2): the code's token family.
type authorizationCodeGrant struct{}

func (authorizationCodeGrant) grantType() string { return GrantAuthorizationCode }
func (authorizationCodeGrant) label() string     { return "authorization_code" }

// codeLength is the length of a code: 32 bytes, base64url without padding.
const codeLength = 43

// invalidCode is the one answer to every refused code, whatever the reason
// (the log says which).
const invalidCode = "invalid authorization code"

func (authorizationCodeGrant) request(ctx context.Context, i *Issuer, f form, c *client, now time.Time) (*mintRequest, *oauthError) {
	code := f.get("code")
	if code == "" {
		return nil, invalidRequest("missing code")
	}
	verifier := f.get("code_verifier")
	if verifier == "" {
		return nil, invalidRequest("missing code_verifier (PKCE is required)")
	}
	if !validVerifier(verifier) {
		return nil, invalidRequest("malformed code_verifier")
	}
	if len(code) != codeLength || !isBase64URL(code) {
		return nil, invalidGrant(invalidCode)
	}
	refuse := func(reason string) *oauthError {
		i.logger.LogAttrs(ctx, slog.LevelInfo, "authorization code refused", slog.String("client_id", c.id), slog.String("reason", reason))
		return invalidGrant(invalidCode)
	}
	rec, first, err := i.store.RedeemCode(ctx, codeHash(code))
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse("unknown or expired code")
	}
	if err != nil {
		i.logger.LogAttrs(ctx, slog.LevelError, "redeeming a code failed", slog.String("error", err.Error()))
		return nil, serverError()
	}
	family := codeFamily(rec)
	if !first {
		// A replay: whoever redeemed first may have been an attacker,
		// so nothing issued from this code stays valid.
		until := rec.ExpiresAt.Add(i.maxTTL + token.MaxLeeway)
		if l := now.Add(i.maxTTL + token.MaxLeeway); until.Before(l) {
			until = l
		}
		if err := i.revokeFamily(ctx, family, until); err != nil {
			i.logger.LogAttrs(ctx, slog.LevelError, "revoking a replayed code's tokens failed", slog.String("error", err.Error()))
			return nil, serverError()
		}
		i.logger.LogAttrs(ctx, slog.LevelWarn, "authorization code replayed: its tokens are revoked",
			slog.String("client_id", c.id), slog.String("code_client_id", rec.ClientID), slog.String("sub", rec.Subject))
		return nil, invalidGrant(invalidCode)
	}
	switch {
	case rec.ClientID != c.id:
		return nil, refuse("issued to another client")
	case !now.Before(rec.RedeemBy):
		return nil, refuse("expired")
	case rec.RedirectURI != f.get("redirect_uri"):
		return nil, refuse("redirect_uri differs from the authorization request's")
	case rec.CodeChallenge == "":
		return nil, refuse("code issued without a PKCE challenge")
	case !pkceMatches(verifier, rec.CodeChallenge):
		return nil, refuse("PKCE verifier does not match the challenge")
	}
	if i.notBefore.refusesGrant(c.id, rec.Subject, rec.AuthTime.Unix(), rec.RedeemBy.Add(-codeRedeemWindow).Unix()) {
		// `revoke --user` after the sign-in, or `--client` after the code.
		return nil, refuse("the client's or user's tokens were revoked after the code was issued")
	}
	user, err := i.lookupUser(ctx, rec.Subject)
	if err != nil || user.Disabled {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, serverError()
		}
		return nil, refuse("user unknown or disabled")
	}
	// The scopes granted at the authorization endpoint, less any the
	// client lost since.
	scopes := slices.DeleteFunc(slices.Clone(rec.Scopes), func(s string) bool { return !c.hasScope(s) })
	authTime := rec.AuthTime
	if authTime.IsZero() {
		authTime = now
	}
	return &mintRequest{
		client:   c,
		subject:  user.Name,
		scopes:   scopes,
		audience: c.audience,
		lifetime: c.ttl,
		format:   c.format,
		person: &personGrant{
			user: user, authTime: authTime, nonce: rec.Nonce, sessionID: rec.SessionID,
			familyID: family, familyEnd: now.Add(i.familyLifetime),
			refresh: c.allowsGrant(GrantRefreshToken), refreshScopes: scopes,
			idToken: slices.Contains(scopes, "openid"),
		},
	}, nil
}

// codeFamily names the family a code starts: the record's FamilyID, or one
// derived from the code's hash when the record names none (a replay finds
// the same).
func codeFamily(rec store.CodeRecord) string {
	if rec.FamilyID != "" {
		return rec.FamilyID
	}
	return "code:" + base64.RawURLEncoding.EncodeToString(rec.Hash)
}

// validVerifier checks RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// PKCEChallenge is the S256 code_challenge of a verifier (RFC 7636 §4.2).
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// pkceMatches compares the verifier's S256 challenge with the stored one in
// constant time.
func pkceMatches(verifier, challenge string) bool {
	return subtle.ConstantTimeCompare([]byte(PKCEChallenge(verifier)), []byte(challenge)) == 1
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
