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
	// CnfX5TS256 binds the token to a client certificate (RFC 8705): the
	// base64url SHA-256 thumbprint of its DER encoding.
	CnfX5TS256 string `json:"cnf_x5t_s256,omitempty"`
	// CnfJKT binds the token to a DPoP key (RFC 9449): its JWK thumbprint.
	CnfJKT string `json:"cnf_jkt,omitempty"`
	// AuthTime is when the token's user signed in; zero for a client's own
	// token.
	AuthTime time.Time `json:"auth_time,omitzero"`
}

// Revocation is a revoked JWT id and when its record may be forgotten.
type Revocation struct {
	JTI   string    `json:"jti"`
	Until time.Time `json:"until"`
}

// Client is a run-time registered API client: every field the admin API
// edits. What a field leaves empty takes the issuer's default.
type Client struct {
	ID string `json:"id"`
	// Issuer is the issuer URL the client belongs to; empty (records
	// written before clients were per issuer) means every issuer.
	Issuer       string       `json:"issuer,omitempty"`
	Name         string       `json:"name,omitempty"`
	SecretHashes []SecretHash `json:"secret_hashes,omitempty"`
	// AuthMethods are client authentication method names (RFC 7591).
	AuthMethods []string `json:"auth_methods,omitempty"`
	GrantTypes  []string `json:"grant_types,omitempty"`
	// RedirectURIs and PostLogoutRedirectURIs are the exact URIs of the
	// browser flows.
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// Public clients have no secret (browser and native apps, PKCE).
	Public      bool     `json:"public,omitempty"`
	SkipConsent bool     `json:"skip_consent,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	Audience    []string `json:"audience,omitempty"`
	// AccessTokenTTL and RefreshTokenTTL are lifetimes in seconds (1 to
	// 2147483647); 0 is the issuer's default.
	AccessTokenTTL  int64 `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL int64 `json:"refresh_token_ttl,omitempty"`
	// TokenFormat is jwt or opaque; empty is jwt.
	TokenFormat string `json:"token_format,omitempty"`
	// AllowIP and DenyIP are IP filter entries (IPs, CIDRs, ranges).
	AllowIP  []string `json:"allow_ip,omitempty"`
	DenyIP   []string `json:"deny_ip,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
	// JWKSURI is where a private_key_jwt client publishes its keys.
	JWKSURI   string    `json:"jwks_uri,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// SecretHash is a hashed client secret with an optional expiry.
type SecretHash struct {
	// ID names the secret in the admin API (never the secret itself).
	ID          string `json:"id,omitempty"`
	Hash        string `json:"hash"` // "sha256:<hex>", bcrypt "$2...", or argon2id "$argon2id$..."
	Description string `json:"description,omitempty"`
	// Current marks the secret last generated; the others are kept
	// (rotated) secrets that work until they expire.
	Current   bool      `json:"current,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	Expires   time.Time `json:"expires,omitempty"`
}
