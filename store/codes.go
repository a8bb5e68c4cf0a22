package store

import (
	"context"
	"time"
)

// CodeStore keeps authorization codes, under a hash of the code.
type CodeStore interface {
	// PutCode stores a code record. It needs a Hash and an ExpiresAt.
	PutCode(ctx context.Context, rec CodeRecord) error
	// RedeemCode marks the code redeemed and returns its record. Of all
	// callers (across instances sharing the engine) exactly one sees
	// first == true; every later caller gets the record with first ==
	// false, until ExpiresAt, so the issuer can revoke what the first
	// redemption issued (RFC 6749 §4.1.2). ErrNotFound when the code is
	// missing or expired.
	RedeemCode(ctx context.Context, hash []byte) (rec CodeRecord, first bool, err error)
}

// CodeRecord is an authorization code and everything it is bound to.
type CodeRecord struct {
	Hash          []byte   `json:"hash"`
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	CodeChallenge string   `json:"code_challenge,omitempty"` // PKCE S256 challenge
	Nonce         string   `json:"nonce,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	// Subject is the signed-in user's name (the token `sub`).
	Subject  string    `json:"sub"`
	AuthTime time.Time `json:"auth_time"`
	// SessionID is the issuer SSO session the code came from (the ID
	// token's `sid`), if any.
	SessionID string `json:"sid,omitempty"`
	// FamilyID names the token family the code starts: every access and
	// refresh token issued from it, and from their refreshes, carries it.
	FamilyID string `json:"family_id"`
	// RedeemBy is the end of the code's short validity (the issuer
	// checks it); ExpiresAt, later, is when the record is forgotten, so a
	// late second redemption is still recognised as a replay.
	RedeemBy  time.Time `json:"redeem_by"`
	ExpiresAt time.Time `json:"expires_at"`
	// Redeemed is set by RedeemCode.
	Redeemed bool `json:"redeemed,omitempty"`
}
