package issuer

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// ErrRevokedBefore refuses a token issued at or before its client's or
// user's tokens were all revoked (store.NotBefore).
var ErrRevokedBefore = errors.New("token revoked: its client's or user's tokens were revoked after it was issued")

type notBeforeKey struct {
	user bool
	id   string
}

// notBeforeSet is the in-memory copy of the issuer's not-before records
// (unix seconds), swapped whole; reads are one atomic load and allocate
// nothing.
type notBeforeSet struct {
	m atomic.Pointer[map[notBeforeKey]int64]
}

// refuses reports whether a token of clientID for subject, issued at iat,
// was revoked by a not-before record. A user record applies to a person's
// token (person: it has an auth_time) and to any whose subject is not the
// client itself (client credentials tokens have the client as subject, and
// no auth_time): a user named like the client is still revoked. The instant is in seconds, like iat: a token issued
// in the same second as the revocation is refused too (fail closed).
func (s *notBeforeSet) refuses(clientID, subject string, iat int64, person bool) bool {
	p := s.m.Load()
	if p == nil || len(*p) == 0 {
		return false
	}
	m := *p
	if at, ok := m[notBeforeKey{id: clientID}]; ok && iat <= at {
		return true
	}
	if subject != "" && (person || subject != clientID) {
		if at, ok := m[notBeforeKey{user: true, id: subject}]; ok && iat <= at {
			return true
		}
	}
	return false
}

// refusesUser reports whether a user's sign-in (an SSO session, or a code
// it issued) at the unix second at was revoked by a user not-before record.
func (s *notBeforeSet) refusesUser(subject string, at int64) bool {
	p := s.m.Load()
	if p == nil || len(*p) == 0 {
		return false
	}
	nb, ok := (*p)[notBeforeKey{user: true, id: subject}]
	return ok && at <= nb
}

// refusesGrant reports whether an authorization code or a refresh token,
// issued at issued from a sign-in at authTime, was revoked: by its user's
// not-before (the sign-in predates it) or its client's (the code or token
// does; a token issued after `revoke --client` from an earlier sign-in is
// not).
func (s *notBeforeSet) refusesGrant(clientID, subject string, authTime, issued int64) bool {
	return s.refusesUser(subject, authTime) || s.refuses(clientID, "", issued, false)
}

func (s *notBeforeSet) replace(recs []store.NotBefore) {
	m := make(map[notBeforeKey]int64, len(recs))
	for _, r := range recs {
		k := notBeforeKey{user: r.Kind == store.NotBeforeUser, id: r.ID}
		if at := r.At.Unix(); at > m[k] {
			m[k] = at
		}
	}
	s.m.Store(&m)
}

// loadNotBefores reads the issuer's not-before records from the store (Run
// calls it every clientCheckInterval, so a revocation on another instance
// sharing the store lands within ClientPollInterval).
func (i *Issuer) loadNotBefores(ctx context.Context) error {
	recs, err := i.store.NotBefores(ctx, i.iss)
	if err != nil {
		return err
	}
	i.notBefore.replace(recs)
	return nil
}

// RevokeAllOf refuses, from now on, every token issued so far to a client
// (kind store.NotBeforeClient) or a user (store.NotBeforeUser): it records
// a not-before instant in the store, where every instance sharing it finds
// it, and applies it here at once. It returns the instant.
func (i *Issuer) RevokeAllOf(ctx context.Context, kind, id string) (time.Time, error) {
	if i.store == nil {
		return time.Time{}, errors.New("issuer: no store")
	}
	at := i.now().Truncate(time.Second)
	// The record outlives every token issued before at: the longest
	// lifetime any client may be given, plus the largest gateway leeway.
	nb := store.NotBefore{Issuer: i.iss, Kind: kind, ID: id, At: at, Until: at.Add(MaxTTL + token.MaxLeeway)}
	if err := i.store.SetNotBefore(ctx, nb); err != nil {
		return time.Time{}, err
	}
	return at, i.loadNotBefores(ctx)
}
