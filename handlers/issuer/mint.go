package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// mintRequest is what a grant decided to issue; mint turns it into tokens.
type mintRequest struct {
	client   *client
	subject  string
	scopes   []string
	audience []string
	// lifetime of the access token, whole seconds.
	lifetime time.Duration
	// format is FormatJWT or FormatOpaque.
	format string
	// extra are further JWT claims (none of accessClaims' names); opaque
	// tokens carry none.
	extra map[string]any
	// issuedTokenType, when set, is the RFC 8693 issued_token_type of the
	// answer.
	issuedTokenType string
	// cnf, when set, binds the token to a client certificate or a DPoP key
	// (RFC 7800 cnf claim, opaque record, introspection).
	cnf *token.Confirmation
	// boundJKT, set by a grant whose credential is DPoP-bound (a subject
	// token, a refresh token), is the key the request's proof must be of:
	// what is minted stays bound to it.
	boundJKT string
	// boundX5T, set by a refresh token bound to a client certificate, is
	// the certificate the request must come with (checkBoundCertificate).
	boundX5T string
	// person, when set, makes this a token of a signed-in user: it gets
	// auth_time, and mint records its family and issues the refresh token
	// and ID token asked for (mint_people.go).
	person *personGrant
}

// mint is the one place tokens are issued: it applies the client's rate
// limit and issues the access token (a signed JWT or an opaque token stored
// hashed). For a user's token (m.person) it first records the token family
// (a code exchange starts one, a refresh rotates it), then issues the
// refresh token and the ID token the grant asked for (mint_people.go).
func (i *Issuer) mint(ctx context.Context, m *mintRequest, now time.Time) (*tokenResponse, *oauthError) {
	// Every issuance counts against the client's rate limit (opaque tokens
	// grow the store; JWTs cost a signature).
	if ok, retry := m.client.issuance.take(now); !ok {
		i.logger.LogAttrs(ctx, slog.LevelInfo, "token issuance rate limited",
			slog.String("client_id", m.client.id), slog.String("rate_limit", m.client.issuance.limit.String()))
		return nil, rateLimited(retry)
	}
	iat := now.Unix()
	exp := iat + int64(m.lifetime/time.Second)
	jti, err := randomJTI()
	if err != nil {
		return nil, serverError()
	}
	var family *familyResult
	if m.person != nil {
		var e *oauthError
		if family, e = i.recordFamily(ctx, m, jti, exp, now); e != nil {
			return nil, e
		}
	}
	var tok string
	switch m.format {
	case FormatOpaque:
		if len(m.extra) > 0 {
			// The opaque token record has no place for them: refuse
			// rather than drop them silently.
			i.logger.LogAttrs(ctx, slog.LevelError, "extra claims requested for an opaque token", slog.String("client_id", m.client.id))
			return nil, serverError()
		}
		if tok, err = i.mintOpaque(ctx, m, jti, iat, exp); err != nil {
			i.logger.LogAttrs(ctx, slog.LevelError, "storing opaque token failed", slog.String("error", err.Error()))
			return nil, storeFailure(err)
		}
	default:
		claims, err := encodeAccessClaims(i.iss, m, jti, iat, exp)
		if err != nil {
			i.logger.LogAttrs(ctx, slog.LevelError, "encoding token claims failed", slog.String("error", err.Error()))
			return nil, serverError()
		}
		signer := i.signerFor(ctx, m.client)
		if tok, err = signer.Sign(token.TypAccessToken, claims); err != nil {
			i.logger.LogAttrs(ctx, slog.LevelError, "signing token failed", slog.String("error", err.Error()))
			return nil, serverError()
		}
	}
	resp := &tokenResponse{
		AccessToken:     tok,
		TokenType:       tokenType(m.cnf),
		ExpiresIn:       exp - iat,
		Scope:           spaceJoined(m.scopes),
		IssuedTokenType: m.issuedTokenType,
	}
	if m.person != nil {
		if e := i.finishPerson(ctx, m, family, resp, now); e != nil {
			return nil, e
		}
	}
	return resp, nil
}

// mintOpaque creates a random token and stores its record under its hash.
func (i *Issuer) mintOpaque(ctx context.Context, m *mintRequest, jti string, iat, exp int64) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	rec := store.TokenRecord{
		Hash: i.opaqueHash(tok), JTI: jti, ClientID: m.client.id, Subject: m.subject,
		Scopes: m.scopes, Audience: m.audience,
		IssuedAt: time.Unix(iat, 0), ExpiresAt: time.Unix(exp, 0),
	}
	if m.cnf != nil {
		rec.CnfX5TS256, rec.CnfJKT = m.cnf.X5TS256, m.cnf.JKT
	}
	if m.person != nil {
		rec.AuthTime = m.person.authTime
	}
	return tok, i.store.PutToken(ctx, rec)
}

// accessClaims are the RFC 9068 claims of a JWT access token.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud,omitempty"`
	Expires  int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	// Cnf binds the token (RFC 7800); absent for bearer tokens.
	Cnf *token.Confirmation `json:"cnf,omitempty"`
	// AuthTime marks a user's token (RFC 9068 §2.2.1).
	AuthTime int64 `json:"auth_time,omitempty"`
}

// accessClaimNames are accessClaims' names, which extra claims may not use.
var accessClaimNames = []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "nbf", "cnf", "auth_time"}

// encodeAccessClaims encodes the claims of m, extra claims last (sorted).
func encodeAccessClaims(iss string, m *mintRequest, jti string, iat, exp int64) ([]byte, error) {
	ac := accessClaims{
		Issuer: iss, Subject: m.subject, Audience: m.audience, Expires: exp, IssuedAt: iat,
		JTI: jti, ClientID: m.client.id, Scope: spaceJoined(m.scopes), Cnf: m.cnf,
	}
	if m.person != nil {
		ac.AuthTime = m.person.authTime.Unix()
	}
	// Sized for the usual claims and one extra claim without growing.
	b := appendAccessClaims(make([]byte, 0, 192+len(iss)+len(ac.Subject)+len(ac.Scope)+32*len(ac.Audience)), &ac)
	if len(m.extra) == 0 {
		return b, nil
	}
	names := make([]string, 0, len(m.extra))
	for k := range m.extra {
		if slices.Contains(accessClaimNames, k) {
			return nil, fmt.Errorf("extra claim %q would override a registered claim", k)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	b = b[:len(b)-1]
	for _, k := range names {
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m.extra[k])
		if err != nil {
			return nil, err
		}
		b = append(append(append(append(b, ','), kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}

// randomJTI returns 128 random bits, base64url.
func randomJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
