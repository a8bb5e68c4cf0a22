package issuer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// tokenExchangeGrant implements RFC 8693 for downscoping: the subject token
// is an access token of this issuer, held by the requesting client itself
// (a client cannot exchange another client's token). The new token keeps
// the subject's "sub", its scopes are a subset of the subject token's scopes
// that the client is still allowed, its audience a subset of the subject
// token's audience, and it expires no later than the subject token.
//
// A subject token that is invalid, expired, revoked, foreign or held by
// another client is answered invalid_request: RFC 8693 §2.2.2 requires that
// code whenever the subject_token is "invalid for any reason, or
// unacceptable based on policy".
type tokenExchangeGrant struct{}

func (tokenExchangeGrant) grantType() string { return GrantTokenExchange }
func (tokenExchangeGrant) label() string     { return "token-exchange" }

func (tokenExchangeGrant) request(ctx context.Context, i *Issuer, f form, c *client, now time.Time) (*mintRequest, *oauthError) {
	subjectToken := f.get("subject_token")
	if subjectToken == "" {
		return nil, invalidRequest("missing subject_token")
	}
	if t := f.get("subject_token_type"); t != TokenTypeAccessToken {
		return nil, invalidRequest("subject_token_type must be " + TokenTypeAccessToken)
	}
	if t := f.get("requested_token_type"); t != "" && t != TokenTypeAccessToken {
		return nil, invalidRequest("requested_token_type must be " + TokenTypeAccessToken)
	}
	if f.get("actor_token") != "" || f.get("actor_token_type") != "" {
		return nil, invalidRequest("actor tokens (delegation) are not supported")
	}
	if len(f.all("resource")) > 0 {
		return nil, newError(http.StatusBadRequest, errInvalidTarget, "resource is not supported; use audience")
	}
	info, err := i.resolve(ctx, subjectToken)
	if err != nil {
		if errors.Is(err, errNotOurs) {
			return nil, i.invalidSubject(c, "not a valid, unexpired token of this issuer", "")
		}
		return nil, serverError()
	}
	if err := i.admissible(info.jti, info.clientID, info.subject, nil, info.issuedAt, info.authTime, now.Unix()); err != nil {
		return nil, i.invalidSubject(c, err.Error(), info.jti)
	}
	if info.clientID != c.id {
		return nil, i.invalidSubject(c, "issued to another client", info.jti)
	}
	if info.authTime != 0 {
		// A user's token belongs to a family that would not hold the new
		// token: revoking the family must leave nothing behind.
		return nil, i.invalidSubject(c, "a user's token cannot be exchanged", info.jti)
	}
	// The most the new token may carry: the subject token's scopes that the
	// client still holds.
	var allowed []string
	for _, s := range info.scopes {
		if c.hasScope(s) {
			allowed = append(allowed, s)
		}
	}
	scopes, e := narrowScopes(f.get("scope"), func(s string) bool { return slices.Contains(allowed, s) }, allowed)
	if e != nil {
		return nil, e
	}
	aud, e := narrowAudience(f.all("audience"), info.audience)
	if e != nil {
		return nil, e
	}
	exp := now.Unix() + int64(c.ttl.Seconds())
	if info.expiresAt < exp {
		exp = info.expiresAt
	}
	if exp <= now.Unix() {
		return nil, i.invalidSubject(c, "expired", info.jti)
	}
	return &mintRequest{
		client:          c,
		subject:         info.subject,
		scopes:          scopes,
		audience:        aud,
		lifetime:        time.Duration(exp-now.Unix()) * time.Second,
		format:          c.format,
		issuedTokenType: TokenTypeAccessToken,
		boundJKT:        jktOf(info.cnf),
	}, nil
}

// invalidSubject refuses a subject token with one description whatever the
// reason, so the answer does not tell a caller whether another client's
// token is valid; the reason goes to the log.
func (i *Issuer) invalidSubject(c *client, reason, jti string) *oauthError {
	attrs := []slog.Attr{slog.String("client_id", c.id), slog.String("reason", reason)}
	if jti != "" {
		attrs = append(attrs, slog.String("jti", jti))
	}
	i.logger.LogAttrs(context.Background(), slog.LevelInfo, "token exchange refused", attrs...)
	return newError(http.StatusBadRequest, errInvalidRequest, subjectTokenInvalid)
}

// subjectTokenInvalid is the one description of a refused subject token.
const subjectTokenInvalid = "subject_token is invalid"
