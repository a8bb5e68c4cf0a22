package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// personGrant is what a user's token carries beyond a client's: who signed
// in when, and which family it belongs to.
type personGrant struct {
	user      *User
	authTime  time.Time
	nonce     string // ID token nonce (code exchange only)
	sessionID string // ID token sid, when known
	familyID  string
	// familyEnd is the family's absolute end (code exchange: now +
	// refresh_family_lifetime; refresh: the family's).
	familyEnd time.Time
	// refresh asks for a refresh token.
	refresh bool
	// refreshScopes are the scopes the refresh token may be refreshed to
	// (RFC 6749 §6: a rotated refresh token keeps the original scope).
	refreshScopes []string
	// rotate is the hash of the refresh token being exchanged; check
	// re-checks its record inside the store's transaction.
	rotate []byte
	check  func(store.RefreshRecord) error
	// idToken asks for an ID token (scope openid).
	idToken bool
	// noFamily: the implicit response, whose access token no family holds.
	noFamily bool
}

// familyResult is what recordFamily issued.
type familyResult struct {
	refreshToken string
}

// refreshTokenBytes is the entropy of a refresh token (256 bits).
const refreshTokenBytes = 32

// refreshHash is the key a refresh token is stored under: SHA-256 over a
// domain label, the issuer URL and the token, like opaque access tokens
// (opaqueHash), so one issuer never accepts another's refresh token.
func (i *Issuer) refreshHash(tok string) []byte { return i.storedHash("authgate-refresh-v1", tok) }

func randomToken() (string, error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// revokeUntil is how long the revocation of a token expiring at exp is kept.
func revokeUntil(exp int64) time.Time {
	return time.Unix(exp+int64(token.MaxLeeway/time.Second), 0)
}

func invalidGrant(desc string) *oauthError {
	return newError(http.StatusBadRequest, errInvalidGrant, desc)
}

// recordFamily stores what a user's access token (jti, expiring at exp)
// belongs to before it is signed: a code exchange starts the family (with
// the first refresh token), a refresh rotates it (spending the presented
// token and revoking the family's previous access token). A refresh that
// reuses a spent token revokes the family.
func (i *Issuer) recordFamily(ctx context.Context, m *mintRequest, jti string, exp int64, now time.Time) (*familyResult, *oauthError) {
	p := m.person
	if p.noFamily {
		return &familyResult{}, nil
	}
	access := store.FamilyAccess{JTI: jti, RevokeUntil: revokeUntil(exp)}
	res := &familyResult{}
	var next store.RefreshRecord
	if p.refresh {
		tok, err := randomToken()
		if err != nil {
			return nil, serverError()
		}
		res.refreshToken = tok
		end := now.Add(i.refreshTTLFor(m.client))
		if p.familyEnd.Before(end) {
			end = p.familyEnd
		}
		next = store.RefreshRecord{
			Hash: i.refreshHash(tok), FamilyID: p.familyID, ClientID: m.client.id, Subject: m.subject,
			Scopes: p.refreshScopes, Audience: m.audience, AuthTime: p.authTime, SessionID: p.sessionID,
			IssuedAt: now, ExpiresAt: end, FamilyEndsAt: p.familyEnd,
			AccessJTI: jti, AccessRevokeUntil: access.RevokeUntil,
			JKT: refreshBinding(m), X5TS256: refreshCertBinding(m),
		}
		if !end.After(now) {
			return nil, invalidGrant("the sign-in has reached its lifetime; sign in again")
		}
	}
	if p.rotate == nil {
		fam := store.RefreshFamily{
			ID: p.familyID, ClientID: m.client.id, Subject: m.subject,
			Access: []store.FamilyAccess{access}, ExpiresAt: p.familyEnd,
		}
		if fam.ExpiresAt.Before(access.RevokeUntil) {
			fam.ExpiresAt = access.RevokeUntil
		}
		var first *store.RefreshRecord
		if p.refresh {
			first = &next
		}
		err := i.store.StartFamily(ctx, fam, first)
		switch {
		case err == nil:
			return res, nil
		case errors.Is(err, store.ErrFamilyRevoked):
			// The code was replayed while this (first) redemption ran:
			// the replay revoked the family, and the store revoked this
			// access token too. The answer is the one a replay coming a
			// moment later would leave: tokens that are already revoked
			// (and no refresh token, which was not stored).
			i.revokeInMemory(fam.Access)
			i.logger.LogAttrs(ctx, slog.LevelWarn, "code replayed during its exchange: the tokens issued are revoked",
				slog.String("client_id", m.client.id))
			return &familyResult{}, nil
		default:
			i.logger.LogAttrs(ctx, slog.LevelError, "storing the token family failed", slog.String("error", err.Error()))
			return nil, storeFailure(err)
		}
	}
	old, fam, err := i.store.RotateRefresh(ctx, p.rotate, func(old store.RefreshRecord) (store.RefreshRecord, error) {
		if err := p.check(old); err != nil {
			return store.RefreshRecord{}, err
		}
		return next, nil
	})
	switch {
	case err == nil:
		// The family's previous access token is revoked in the store;
		// in-process gateways refuse it from now on.
		i.revokeInMemory(fam.Access)
		return res, nil
	case errors.Is(err, store.ErrRefreshReused):
		i.revokeInMemory(fam.Access)
		i.logger.LogAttrs(ctx, slog.LevelWarn, "refresh token reused: token family revoked",
			slog.String("client_id", m.client.id), slog.String("sub", old.Subject), slog.String("family", old.FamilyID))
		return nil, invalidGrant("invalid refresh token")
	case errors.Is(err, store.ErrFamilyRevoked), errors.Is(err, store.ErrNotFound), errors.Is(err, errRefreshMismatch):
		return nil, invalidGrant("invalid refresh token")
	default:
		i.logger.LogAttrs(ctx, slog.LevelError, "rotating a refresh token failed", slog.String("error", err.Error()))
		return nil, storeFailure(err)
	}
}

// errRefreshMismatch: the record changed between the grant's read and the
// rotation (it never should; the check is the store-side guard).
var errRefreshMismatch = errors.New("refresh token record does not match the request")

// revokeInMemory adds access tokens the store revoked to the in-memory set
// the in-process gateways read.
func (i *Issuer) revokeInMemory(access []store.FamilyAccess) {
	for _, a := range access {
		i.revoked.add(a.JTI, a.RevokeUntil.Unix())
	}
}

// revokeFamily revokes a family in the store (every access token it lists,
// every refresh token of it) and in memory at once.
func (i *Issuer) revokeFamily(ctx context.Context, id string, until time.Time) error {
	fam, err := i.store.RevokeFamily(ctx, id, until)
	if err != nil {
		return err
	}
	i.revokeInMemory(fam.Access)
	return nil
}

// finishPerson adds the refresh token and the ID token to the answer.
func (i *Issuer) finishPerson(ctx context.Context, m *mintRequest, fr *familyResult, resp *tokenResponse, now time.Time) *oauthError {
	if fr != nil {
		resp.RefreshToken = fr.refreshToken
	}
	if !m.person.idToken {
		return nil
	}
	idt, err := i.mintIDToken(ctx, m, resp.AccessToken, now)
	if err != nil {
		i.logger.LogAttrs(ctx, slog.LevelError, "signing the ID token failed", slog.String("client_id", m.client.id), slog.String("error", err.Error()))
		return serverError()
	}
	resp.IDToken = idt
	return nil
}

// mintImplicit issues the access token of the implicit grant's
// response_type=token (the authorization endpoint calls it for a client with
// the implicit grant): a user's access token, no refresh token, no ID token
// (response_type=token asks for none), counted against the client's rate
// limit like every token. scopes are the granted scopes; authTime is when
// the user signed in.
func (i *Issuer) mintImplicit(ctx context.Context, c *client, user *User, scopes []string, authTime, now time.Time) (*tokenResponse, *oauthError) {
	if !c.allowsGrant(GrantImplicit) {
		return nil, newError(http.StatusBadRequest, errUnauthorizedClient, "client may not use the implicit grant")
	}
	if c.senderConstrained() {
		// No proof or certificate comes with the authorization request:
		// the token could only be a Bearer token.
		return nil, newError(http.StatusBadRequest, errUnauthorizedClient, "this client's tokens must be sender-constrained; use response_type code")
	}
	if user == nil || user.Disabled {
		return nil, newError(http.StatusBadRequest, "access_denied", "user may not sign in")
	}
	for _, s := range scopes {
		if !c.hasScope(s) {
			return nil, newError(http.StatusBadRequest, errInvalidScope, "scope "+safeName(s)+" is not allowed")
		}
	}
	return i.mint(ctx, &mintRequest{
		client: c, subject: user.Name, scopes: scopes, audience: c.audience,
		lifetime: c.ttl, format: c.format,
		person: &personGrant{user: user, authTime: authTime, noFamily: true},
	}, now)
}
