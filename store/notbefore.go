package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NotBeforeStore keeps "not before" instants: every token an issuer issued
// to a client (kind NotBeforeClient) or a user (NotBeforeUser) at or before
// the instant is refused, whatever its own expiry. It is how "revoke
// everything of this client / user" works without knowing every token.
type NotBeforeStore interface {
	// SetNotBefore records nb. A record for the same issuer, kind and id
	// keeps the later At and the later Until.
	SetNotBefore(ctx context.Context, nb NotBefore) error
	// NotBefores returns the issuer's unexpired records, ordered by kind
	// then id.
	NotBefores(ctx context.Context, issuer string) ([]NotBefore, error)
}

// Kinds of NotBefore records.
const (
	NotBeforeClient = "client"
	NotBeforeUser   = "user"
)

// NotBefore refuses the tokens an issuer issued to one client or user at or
// before At. Until is when the record may be forgotten: every token issued
// before At has expired by then (At + the longest lifetime + leeway).
type NotBefore struct {
	Issuer string    `json:"issuer"`
	Kind   string    `json:"kind"`
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Until  time.Time `json:"until"`
}

// NotBeforeKey is an engine's key for a record: issuer NUL kind NUL id.
func NotBeforeKey(issuer, kind, id string) []byte {
	k := append([]byte(issuer), 0)
	k = append(append(k, kind...), 0)
	return append(k, id...)
}

// NotBeforePrefix is the key prefix of an issuer's records.
func NotBeforePrefix(issuer string) []byte { return append([]byte(issuer), 0) }

// CheckNotBefore validates a record before an engine stores it.
func CheckNotBefore(nb NotBefore) error {
	if nb.Kind != NotBeforeClient && nb.Kind != NotBeforeUser {
		return fmt.Errorf("store: not-before kind %q (want client or user)", nb.Kind)
	}
	if err := CheckKey("issuer", []byte(nb.Issuer)); err != nil {
		return err
	}
	if err := CheckKey("not-before id", []byte(nb.ID)); err != nil {
		return err
	}
	if len(NotBeforeKey(nb.Issuer, nb.Kind, nb.ID)) > MaxKeySize {
		return fmt.Errorf("store: not-before key exceeds the limit of %d bytes", MaxKeySize)
	}
	if nb.At.IsZero() || nb.Until.IsZero() || nb.Until.Before(nb.At) {
		return errors.New("store: not-before needs At and an Until not before it")
	}
	return nil
}

// MergeNotBefore is what SetNotBefore stores over an existing record: the
// later At and the later Until.
func MergeNotBefore(old, nb NotBefore) NotBefore {
	if old.At.After(nb.At) {
		nb.At = old.At
	}
	if old.Until.After(nb.Until) {
		nb.Until = old.Until
	}
	return nb
}
