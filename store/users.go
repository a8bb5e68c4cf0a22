package store

import (
	"context"
	"time"
)

// UserStore keeps people registered at run time (users defined in the config
// or a users file live there). The admin API writes it; the issuer reads it
// when someone signs in.
type UserStore interface {
	// PutUser stores a user, replacing one with the same Name.
	PutUser(ctx context.Context, u UserRecord) error
	// GetUser returns a user; ErrNotFound when there is none.
	GetUser(ctx context.Context, name string) (UserRecord, error)
	// DeleteUser removes a user; deleting a missing one is not an error.
	DeleteUser(ctx context.Context, name string) error
	// Users lists every user, ordered by Name.
	Users(ctx context.Context) ([]UserRecord, error)
}

// UserRecord is one person who can sign in at the issuer.
type UserRecord struct {
	// Name is the sign-in name and the tokens' `sub`.
	Name string `json:"name"`
	// Issuer is the issuer URL the user signs in at (every issuer of a
	// Caddy shares the store; names are unique across it). Empty: every
	// issuer sharing the store.
	Issuer string `json:"issuer,omitempty"`
	// PasswordHash is an argon2id PHC string ($argon2id$v=19$...) or a
	// bcrypt hash ($2a$/$2b$/$2y$); never the password.
	PasswordHash string `json:"password_hash,omitempty"`
	// Claims are the user's claims (email, name, groups, ...), released by
	// scope in ID tokens and userinfo.
	Claims map[string]any `json:"claims,omitempty"`
	// Disabled users cannot sign in, and their tokens stop working.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}
