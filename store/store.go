// Package store is authgate's persistence: the Store interface the issuer
// needs, and its engines (embedded bbolt by default). Handlers depend on the
// interface only, so a distributed engine can be added without touching them.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a record does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// Store is the persistence interface. Every method is safe for concurrent use.
// Writes are durable when the method returns (the bbolt engine fsyncs on commit).
type Store interface {
	// UpdateSigningKeys runs fn on the issuer's current signing keys inside
	// one write transaction and replaces them with its result, so concurrent
	// instances never both generate a first key. Each issuer sees and
	// replaces only its own keys. Returning an error aborts.
	UpdateSigningKeys(ctx context.Context, issuer string, fn func(current []SigningKey) ([]SigningKey, error)) ([]SigningKey, error)
	// SigningKeys returns the issuer's signing keys, oldest first.
	SigningKeys(ctx context.Context, issuer string) ([]SigningKey, error)

	// PutToken stores an opaque token record under its hash.
	PutToken(ctx context.Context, rec TokenRecord) error
	// GetToken returns the record for a token hash; ErrNotFound when it is
	// missing or expired.
	GetToken(ctx context.Context, hash []byte) (TokenRecord, error)
	// DeleteToken removes a token record; deleting a missing one is not an error.
	DeleteToken(ctx context.Context, hash []byte) error

	// Revoke records that the JWT with this jti is revoked until `until`
	// (the issuer passes the token's exp plus token.MaxLeeway, the largest
	// leeway a gateway may apply).
	Revoke(ctx context.Context, jti string, until time.Time) error
	// Revocations lists the revocations that have not yet expired.
	Revocations(ctx context.Context) ([]Revocation, error)

	// MarkUsed records a single-use marker (e.g. a jti or assertion id) until
	// `until`. It returns false when the marker already exists and has not
	// expired: the value was used before.
	MarkUsed(ctx context.Context, key string, until time.Time) (first bool, err error)

	// PutClient, GetClient, DeleteClient and Clients manage clients that are
	// registered at run time (config-defined clients live in the config).
	PutClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	DeleteClient(ctx context.Context, id string) error
	Clients(ctx context.Context) ([]Client, error)

	// Purge deletes tokens, revocations and markers that expired before now,
	// and signing keys whose ExpiresAt is before now. It returns how many
	// records it removed.
	Purge(ctx context.Context, now time.Time) (int, error)

	// Close releases the engine (the bbolt file lock).
	Close() error
}

// SigningKey is one issuer signing key with its publication schedule.
type SigningKey struct {
	// Issuer owns the key (set by the store from UpdateSigningKeys' issuer).
	Issuer string `json:"issuer"`
	ID     string `json:"id"`  // the JWK kid
	Alg    string `json:"alg"` // e.g. ES256, HS256
	// Private is the key: PKCS#8 DER for asymmetric keys, raw bytes for HMAC.
	Private []byte `json:"private"`
	// CreatedAt is when the key was generated and first published.
	CreatedAt time.Time `json:"created_at"`
	// ActiveAt is when the key starts signing (after it was published long
	// enough for caches to have seen it).
	ActiveAt time.Time `json:"active_at"`
	// RetiredAt, when set, is when a newer key took over signing.
	RetiredAt time.Time `json:"retired_at,omitempty"`
	// ExpiresAt, when set, is when the key leaves the JWKS (every token it
	// signed has expired by then); Purge deletes it after that.
	ExpiresAt time.Time `json:"expires_at,omitempty"`
}

// TokenRecord is an opaque access token, stored under the SHA-256 of its value.
type TokenRecord struct {
	Hash      []byte    `json:"hash"`
	JTI       string    `json:"jti"`
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"sub"`
	Scopes    []string  `json:"scopes,omitempty"`
	Audience  []string  `json:"aud,omitempty"`
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
}

// Revocation is a revoked JWT id and when its record may be forgotten.
type Revocation struct {
	JTI   string    `json:"jti"`
	Until time.Time `json:"until"`
}

// Client is a run-time registered API client.
type Client struct {
	ID           string       `json:"id"`
	Name         string       `json:"name,omitempty"`
	SecretHashes []SecretHash `json:"secret_hashes,omitempty"`
	Scopes       []string     `json:"scopes,omitempty"`
	Audience     []string     `json:"audience,omitempty"`
	GrantTypes   []string     `json:"grant_types,omitempty"`
	Disabled     bool         `json:"disabled,omitempty"`
}

// SecretHash is a hashed client secret with an optional expiry.
type SecretHash struct {
	Hash    string    `json:"hash"` // "sha256:<hex>", bcrypt "$2...", or argon2id "$argon2id$..."
	Expires time.Time `json:"expires,omitempty"`
}
