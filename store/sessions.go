package store

import (
	"context"
	"time"
)

// SessionStore keeps server-side browser state under an opaque id: the
// issuer's single-sign-on sessions and remembered consents, the gateway's
// browser sessions. Kind separates them (each caller picks its own kinds);
// ID is chosen by the caller and is never a cookie value itself, only a
// hash of it, so a leaked store does not hand out live sessions.
type SessionStore interface {
	// PutSession stores a session, replacing one with the same Kind and
	// ID. It needs a Kind, an ID and an ExpiresAt.
	PutSession(ctx context.Context, s Session) error
	// GetSession returns the session; ErrNotFound when it is missing or
	// expired.
	GetSession(ctx context.Context, kind, id string) (Session, error)
	// DeleteSession removes a session; deleting a missing one is not an
	// error.
	DeleteSession(ctx context.Context, kind, id string) error
}

// Session is one server-side session record. Data is opaque to the store
// (JSON, or ciphertext when the caller encrypts it).
type Session struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Subject, when set, names whose session it is (a user name), for
	// listing and ending a person's sessions.
	Subject string `json:"sub,omitempty"`
	Data    []byte `json:"data,omitempty"`
	// ExpiresAt is when the record stops existing.
	ExpiresAt time.Time `json:"expires_at"`
}
