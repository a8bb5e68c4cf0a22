package issuer

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// maxTokenBytes bounds a token presented to introspection, revocation or
// token exchange; longer ones are unknown without any parsing work.
const maxTokenBytes = 8 << 10

// errNotOurs means a token is not a valid, unexpired token of this issuer.
var errNotOurs = errors.New("token not issued here, invalid or expired")

// tokenInfo describes one of our tokens after verification or lookup.
type tokenInfo struct {
	opaque    bool
	hash      []byte // opaque tokens: SHA-256 of the value
	jti       string
	clientID  string
	subject   string
	scopes    []string
	audience  []string
	issuedAt  int64
	expiresAt int64
	cnf       *token.Confirmation // nil: a bearer token
	authTime  int64               // a user's token: when the user signed in; 0 for a client's own
}

// resolve verifies a JWT of ours with our own keys, or looks an opaque token
// up in the store. It fails with errNotOurs for anything invalid, foreign or
// expired; revocation and client state are checked by admissible.
func (i *Issuer) resolve(ctx context.Context, tok string) (*tokenInfo, error) {
	return i.resolveWithin(ctx, tok, 0)
}

// resolveWithin is resolve that also returns a JWT expired less than grace
// ago. Revocation uses token.MaxLeeway: a gateway accepts a JWT until
// exp + its leeway, so one revoked in that window must not be ignored as
// expired.
func (i *Issuer) resolveWithin(ctx context.Context, tok string, grace time.Duration) (*tokenInfo, error) {
	if tok == "" || len(tok) > maxTokenBytes {
		return nil, errNotOurs
	}
	now := i.now().Unix()
	if !hasDot(tok) {
		if len(tok) != 43 { // 32 bytes, base64url without padding
			return nil, errNotOurs
		}
		sum := i.opaqueHash(tok)
		rec, err := i.store.GetToken(ctx, sum)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotOurs
		}
		if err != nil {
			return nil, err
		}
		if rec.ExpiresAt.Unix() <= now {
			return nil, errNotOurs
		}
		return &tokenInfo{
			opaque: true, hash: sum, jti: rec.JTI, clientID: rec.ClientID, subject: rec.Subject,
			scopes: rec.Scopes, audience: rec.Audience, issuedAt: rec.IssuedAt.Unix(), expiresAt: rec.ExpiresAt.Unix(),
			cnf:      recordConfirmation(rec),
			authTime: unixOrZero(rec.AuthTime),
		}, nil
	}
	info, err := i.verifyJWT(ctx, tok)
	if err != nil {
		return nil, errNotOurs
	}
	if info.expiresAt+int64(grace/time.Second) <= now {
		return nil, errNotOurs
	}
	return info, nil
}

// opaqueHash is the key an opaque token is stored under: SHA-256 over a
// domain label, the issuer URL and the token. Every issuer of a Caddy shares
// one store, so the issuer is part of the key: an issuer never resolves (and
// so never accepts, introspects or revokes) an opaque token that another
// issuer minted for a client with the same client_id.
func (i *Issuer) opaqueHash(tok string) []byte { return i.storedHash("authgate-opaque-v1", tok) }

// storedHash is SHA-256 over label, NUL, the issuer URL, NUL and tok.
func (i *Issuer) storedHash(label, tok string) []byte {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write([]byte(i.iss))
	h.Write([]byte{0})
	h.Write([]byte(tok))
	return h.Sum(nil)
}

// verifyJWT checks a JWT of ours with the shared verifier (the issuer is its
// own key resolver) and returns what introspection, revocation and token
// exchange need.
func (i *Issuer) verifyJWT(ctx context.Context, tok string) (*tokenInfo, error) {
	policy := token.Policy{Issuers: []string{i.iss}}
	c, err := token.VerifySignature(ctx, tok, &policy, func(string) (token.KeyResolver, error) { return i, nil })
	if err != nil || c.JTI == "" || c.ClientID == "" {
		return nil, errNotOurs
	}
	return &tokenInfo{
		jti: c.JTI, clientID: c.ClientID, subject: c.Subject, scopes: c.Scopes,
		audience: c.Audience, issuedAt: c.IssuedAt, expiresAt: c.ExpiresAt, cnf: c.Cnf, authTime: c.AuthTime,
	}, nil
}

// claims converts a token's description into gateway claims.
func (t *tokenInfo) claims(iss string) *token.Claims {
	return &token.Claims{
		Issuer: iss, Subject: t.subject, Audience: t.audience, ExpiresAt: t.expiresAt,
		IssuedAt: t.issuedAt, JTI: t.jti, ClientID: t.clientID, Scopes: t.scopes, Cnf: t.cnf, AuthTime: t.authTime,
	}
}

// admissible reports why a verified token of ours may not be used now
// (revoked by jti, or issued at iat before its client's or subject's
// tokens were all revoked; client removed or disabled, client no longer
// allowed one of its scopes), or nil.
func (i *Issuer) admissible(jti, clientID, subject string, scopes []string, iat, authTime, now int64) error {
	if jti != "" && i.revoked.has(jti, now) {
		return ErrRevoked
	}
	if i.notBefore.refuses(clientID, subject, iat, authTime != 0) {
		return ErrRevokedBefore
	}
	c := i.clients.load().byID[clientID]
	if c == nil {
		return ErrUnknownClient
	}
	if c.disabled {
		return ErrClientDisabled
	}
	for _, s := range scopes {
		if !c.hasScope(s) {
			return ErrScopeWithdrawn
		}
	}
	return nil
}

// Admission errors (LocalIssuer.Admit).
var (
	ErrRevoked        = errors.New("token revoked")
	ErrUnknownClient  = errors.New("token's client is not registered")
	ErrClientDisabled = errors.New("token's client is disabled")
	ErrScopeWithdrawn = errors.New("token carries a scope its client no longer has")
	ErrIPNotAllowed   = errors.New("client address not allowed for this client")
	// ErrNotFound is store.ErrNotFound: one not-found sentinel from the
	// store through the issuer.
	ErrNotFound     = store.ErrNotFound
	ErrForeignToken = errors.New("token was not issued by this issuer")
)

// revocationSet is the in-memory set of revoked jtis with their expiry
// (unix seconds). Reads (on every gateway request) are lock-free.
type revocationSet struct {
	m sync.Map // jti -> int64
}

func (s *revocationSet) add(jti string, until int64) {
	if v, ok := s.m.Load(jti); ok && v.(int64) >= until {
		return
	}
	s.m.Store(jti, until)
}

func (s *revocationSet) has(jti string, now int64) bool {
	v, ok := s.m.Load(jti)
	return ok && v.(int64) > now
}

func (s *revocationSet) prune(now int64) {
	s.m.Range(func(k, v any) bool {
		if v.(int64) <= now {
			s.m.Delete(k)
		}
		return true
	})
}

// revocationFeed is the issuer's position in the store's revocation feed.
type revocationFeed struct {
	mu     sync.Mutex // one reload at a time
	cursor store.RevocationCursor
}

// loadRevocations adds the revocations the store recorded since the last
// call (all of them on the first) to the in-memory set: other instances
// sharing the store revoke too.
func (i *Issuer) loadRevocations(ctx context.Context) error {
	i.revFeed.mu.Lock()
	defer i.revFeed.mu.Unlock()
	revs, next, err := i.store.RevocationsSince(ctx, i.revFeed.cursor)
	if err != nil {
		return err
	}
	for _, r := range revs {
		i.revoked.add(r.JTI, r.Until.Unix())
	}
	i.revFeed.cursor = next
	return nil
}

// revoke records a revocation durably and in memory, until the token's exp
// plus the largest leeway any gateway may apply (token.MaxLeeway): a gateway
// accepts a token until exp + its leeway, so a revocation forgotten at exp
// would let the revoked token back in.
func (i *Issuer) revoke(ctx context.Context, info *tokenInfo) error {
	untilUnix := info.expiresAt + int64(token.MaxLeeway/time.Second)
	if err := i.store.Revoke(ctx, info.jti, time.Unix(untilUnix, 0)); err != nil {
		return err
	}
	i.revoked.add(info.jti, untilUnix)
	if info.opaque {
		if err := i.store.DeleteToken(ctx, info.hash); err != nil {
			return err
		}
	}
	return nil
}

func hasDot(s string) bool { return strings.IndexByte(s, '.') >= 0 }
