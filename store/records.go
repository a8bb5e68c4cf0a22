package store

import "time"

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
	// signed has expired by then); the engine deletes it after that.
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
	// AuthTime is when the token's user signed in; zero for a client's own
	// token.
	AuthTime time.Time `json:"auth_time,omitzero"`
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
