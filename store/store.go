// Package store is authgate's persistence: small role interfaces, one per
// kind of record, that handlers state and module wires; the record types;
// and the embedded bbolt engine (OpenBolt), the default. Other engines live
// in their own packages (store/memory for tests, store/redis for several
// instances) and every engine passes the conformance suite in
// store/storetest, the one specification of what the roles mean.
// Encrypted wraps any engine to keep its secrets encrypted at rest
// (encrypted.go); engines shared between processes also implement
// ChangeNotifier and HealthReporter (changes.go), found through wrappers by
// Notifier and Health.
//
// Roles today:
//
//	SigningKeyStore   issuer signing keys, updated in one transaction
//	TokenStore        opaque access tokens, under a hash of their value
//	RevocationStore   revoked JWT ids, with a feed (RevocationsSince)
//	ReplayStore       single-use markers (assertion and DPoP jtis, codes)
//	ClientStore       clients registered at run time, edited atomically
//	                  (UpdateClient), with a change counter (ClientsVersion)
//	NotBeforeStore    per-client / per-user "not before" instants
//	SessionStore      server-side browser sessions and consents (sessions.go)
//	CodeStore         authorization codes, redeemed once (codes.go)
//	RefreshStore      refresh-token families, rotated, revoked whole (refresh.go)
//	UserStore         people registered at run time (users.go)
//
// New roles join the same scheme, each as its own interface in its own file
// here, added to Engine, implemented by every engine and specified in
// storetest in the same change (refresh-token families and users come with
// the sign-in grants).
//
// Expiry is the engine's job: getters never return an expired token,
// revocation or marker, and each engine reclaims expired records (signing
// keys too, after their ExpiresAt) its own way (bbolt runs a purger
// from open to Close; the memory engine sweeps on writes; a TTL engine
// needs neither). Every method is safe for concurrent use and honours ctx;
// after Close every method fails with ErrClosed.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned when a record does not exist or has expired. It is
// the one not-found sentinel of authgate's storage: handlers compare with it
// (errors.Is) and may return it unchanged.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned (wrapped) by every method of a closed engine.
var ErrClosed = errors.New("store: engine is closed")

// SigningKeyStore keeps each issuer's signing keys.
type SigningKeyStore interface {
	// UpdateSigningKeys runs fn on the issuer's current signing keys inside
	// one write transaction and replaces them with its result, so concurrent
	// instances never both generate a first key. Each issuer sees and
	// replaces only its own keys. Returning an error aborts. fn must not
	// call back into the store.
	UpdateSigningKeys(ctx context.Context, issuer string, fn func(current []SigningKey) ([]SigningKey, error)) ([]SigningKey, error)
	// SigningKeys returns the issuer's signing keys, sorted by CreatedAt
	// then ID.
	SigningKeys(ctx context.Context, issuer string) ([]SigningKey, error)
}

// TokenStore keeps opaque access tokens.
type TokenStore interface {
	// PutToken stores an opaque token record under its hash.
	PutToken(ctx context.Context, rec TokenRecord) error
	// GetToken returns the record for a token hash; ErrNotFound when it is
	// missing or expired.
	GetToken(ctx context.Context, hash []byte) (TokenRecord, error)
	// DeleteToken removes a token record; deleting a missing one is not an
	// error.
	DeleteToken(ctx context.Context, hash []byte) error
}

// RevocationStore keeps revoked JWT ids, and a feed of them so that an
// instance learns new revocations without listing all of them again.
type RevocationStore interface {
	// Revoke records that the JWT with this jti is revoked until `until`
	// (the issuer passes the token's exp plus token.MaxLeeway, the largest
	// leeway a gateway may apply). Revoking a jti again keeps the later
	// `until`; an extension appears in the feed again.
	Revoke(ctx context.Context, jti string, until time.Time) error
	// RevocationsSince returns the unexpired revocations recorded or
	// extended after cursor, oldest first, and the cursor to pass next
	// time. The zero cursor returns every unexpired revocation. A cursor
	// the engine did not hand out is an error; one from before the engine
	// was reset or replaced starts the feed over.
	RevocationsSince(ctx context.Context, cursor RevocationCursor) ([]Revocation, RevocationCursor, error)
}

// RevocationCursor is a position in an engine's revocation feed: opaque,
// engine-specific; the zero value is the beginning.
type RevocationCursor string

// ReplayStore keeps single-use markers.
type ReplayStore interface {
	// MarkUsed records a single-use marker (e.g. a jti or assertion id) until
	// `until`. It returns false when the marker already exists and has not
	// expired: the value was used before. Of concurrent callers (across
	// instances sharing the engine) exactly one sees first == true.
	MarkUsed(ctx context.Context, key string, until time.Time) (first bool, err error)
}

// ClientStore keeps clients registered at run time (clients defined in the
// config live in the config).
type ClientStore interface {
	// PutClient stores a client, replacing one with the same ID.
	PutClient(ctx context.Context, c Client) error
	// GetClient returns a client; ErrNotFound when there is none.
	GetClient(ctx context.Context, id string) (Client, error)
	// DeleteClient removes a client; deleting a missing one is not an error.
	DeleteClient(ctx context.Context, id string) error
	// Clients lists every client, ordered by ID.
	Clients(ctx context.Context) ([]Client, error)
	// UpdateClient runs fn on the client's current record (nil when there
	// is none) inside one write transaction and stores its result: a
	// concurrent update of the same client on any instance sharing the
	// engine either sees this one's result or is seen by it. A nil result
	// deletes the client; a result must keep the id. Returning an error
	// aborts (nothing is written). fn must not call back into the store
	// and may run more than once. UpdateClient returns what was stored.
	UpdateClient(ctx context.Context, id string, fn func(current *Client) (*Client, error)) (*Client, error)
	// ClientsVersion returns a number that changes whenever a client is
	// stored, updated or deleted (by any instance sharing the engine), so
	// a registry can tell cheaply that it must read the clients again.
	ClientsVersion(ctx context.Context) (uint64, error)
}

// Engine is a storage engine: every role, and Close. Only module (which
// opens engines) and storetest (which checks them) use the whole of it;
// handlers state the roles they need.
type Engine interface {
	SigningKeyStore
	TokenStore
	RevocationStore
	ReplayStore
	ClientStore
	NotBeforeStore
	SessionStore
	CodeStore
	RefreshStore
	UserStore
	// Close stops the engine's background work and releases it (the bbolt
	// file lock). Calling it again is a no-op.
	io.Closer
}
