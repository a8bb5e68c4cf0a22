package issuer

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// refreshTokenGrant implements RFC 6749 §6 with single-use refresh tokens:
// every refresh spends the presented token and returns a new one (mint
// rotates the family atomically, see recordFamily). Presenting a spent
// token again revokes the whole family (RFC 9700 §4.14.2), and each refresh
// revokes the family's previous access token. The token is bound to the
// client it was issued to; scope may narrow the new access token, never
// widen it (the new refresh token keeps the original scope, RFC 6749 §6); a
// disabled or removed user cannot refresh; nor can a disabled client
// (client authentication refuses it).
type refreshTokenGrant struct{}

func (refreshTokenGrant) grantType() string { return GrantRefreshToken }
func (refreshTokenGrant) label() string     { return "refresh_token" }

// invalidRefresh is the one answer to every refused refresh token.
const invalidRefresh = "invalid refresh token"

func (refreshTokenGrant) request(ctx context.Context, i *Issuer, f form, c *client, now time.Time) (*mintRequest, *oauthError) {
	tok := f.get("refresh_token")
	if tok == "" {
		return nil, invalidRequest("missing refresh_token")
	}
	refuse := func(reason string) *oauthError {
		i.logger.LogAttrs(ctx, slog.LevelInfo, "refresh token refused", slog.String("client_id", c.id), slog.String("reason", reason))
		return invalidGrant(invalidRefresh)
	}
	if len(tok) != codeLength || !isBase64URL(tok) {
		return nil, refuse("malformed")
	}
	hash := i.refreshHash(tok)
	rec, err := i.store.GetRefresh(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse("unknown or expired")
	}
	if err != nil {
		i.logger.LogAttrs(ctx, slog.LevelError, "reading a refresh token failed", slog.String("error", err.Error()))
		return nil, serverError()
	}
	if rec.ClientID != c.id {
		// Not spent: the caller does not hold the client's credentials.
		return nil, refuse("issued to another client")
	}
	if i.notBefore.refusesGrant(c.id, rec.Subject, rec.AuthTime.Unix(), rec.IssuedAt.Unix()) {
		// `revoke --client` / `--user` after this family's sign-in.
		return nil, refuse("the client's or user's tokens were revoked after the sign-in")
	}
	user, err := i.lookupUser(ctx, rec.Subject)
	if err != nil || user.Disabled {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, serverError()
		}
		return nil, refuse("user unknown or disabled")
	}
	// What the token may still give: its scopes that the client still has.
	allowed := slices.DeleteFunc(slices.Clone(rec.Scopes), func(s string) bool { return !c.hasScope(s) })
	scopes, e := narrowScopes(f.get("scope"), func(s string) bool { return slices.Contains(allowed, s) }, allowed)
	if e != nil {
		return nil, e
	}
	return &mintRequest{
		client:   c,
		subject:  rec.Subject,
		scopes:   scopes,
		audience: rec.Audience,
		lifetime: c.ttl,
		format:   c.format,
		// A token bound to a DPoP key refreshes only with a proof of that
		// key (checkBoundKey), and its successor is bound to it too.
		boundJKT: rec.JKT,
		// Likewise a token bound to a client certificate.
		boundX5T: rec.X5TS256,
		person: &personGrant{
			user: user, authTime: rec.AuthTime, sessionID: rec.SessionID,
			familyID: rec.FamilyID, familyEnd: rec.FamilyEndsAt,
			refresh: true, refreshScopes: rec.Scopes,
			rotate: hash,
			check: func(old store.RefreshRecord) error {
				if old.ClientID != c.id || old.Subject != rec.Subject || old.FamilyID != rec.FamilyID {
					return errRefreshMismatch
				}
				return nil
			},
			idToken: slices.Contains(scopes, "openid"),
		},
	}, nil
}
