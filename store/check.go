package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Limits every engine enforces (storetest checks them), so that a hostile
// client registration or any other oversized input cannot bloat storage.
const (
	// DefaultMaxRecordSize caps one JSON-encoded record.
	DefaultMaxRecordSize = 64 << 10
	// MaxKeySize caps a record key (issuer, signing key id, token hash, jti,
	// marker key, client id), far below bbolt's own limit of 32 KiB.
	MaxKeySize = 1024
)

// The helpers below are for engines: they make every engine validate,
// order and expire records the same way.

// Expired reports whether a record valid until `until` is no longer valid
// at now: a record expires at its expiry instant.
func Expired(until, now time.Time) bool { return !until.After(now) }

// CheckKey validates a record key: not empty, at most MaxKeySize bytes.
func CheckKey(what string, k []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("store: empty %s", what)
	}
	if len(k) > MaxKeySize {
		return fmt.Errorf("store: %s of %d bytes exceeds the limit of %d", what, len(k), MaxKeySize)
	}
	return nil
}

// Encode JSON-encodes a record and enforces the record size limit max.
func Encode(what string, v any, max int) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encoding %s: %w", what, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("store: %s record of %d bytes exceeds the limit of %d", what, len(data), max)
	}
	return data, nil
}

// SortSigningKeys orders keys by CreatedAt, then ID.
func SortSigningKeys(keys []SigningKey) {
	sort.SliceStable(keys, func(i, j int) bool {
		if !keys[i].CreatedAt.Equal(keys[j].CreatedAt) {
			return keys[i].CreatedAt.Before(keys[j].CreatedAt)
		}
		return keys[i].ID < keys[j].ID
	})
}

// PrepareSigningKeys validates the result of an UpdateSigningKeys function
// and encodes it: it returns a copy with Issuer set, sorted, and each key's
// encoding (in the copy's order).
func PrepareSigningKeys(issuer string, next []SigningKey, max int) ([]SigningKey, [][]byte, error) {
	next = append([]SigningKey(nil), next...)
	seen := make(map[string]bool, len(next))
	for i := range next {
		next[i].Issuer = issuer
		sk := next[i]
		if err := CheckKey("signing key id", []byte(sk.ID)); err != nil {
			return nil, nil, err
		}
		if seen[sk.ID] {
			return nil, nil, fmt.Errorf("store: duplicate signing key id %q", sk.ID)
		}
		seen[sk.ID] = true
		if sk.Alg == "" || len(sk.Private) == 0 {
			return nil, nil, fmt.Errorf("store: signing key %q needs an algorithm and key material", sk.ID)
		}
	}
	SortSigningKeys(next)
	encoded := make([][]byte, len(next))
	for i := range next {
		var err error
		if encoded[i], err = Encode("signing key", next[i], max); err != nil {
			return nil, nil, err
		}
	}
	return next, encoded, nil
}

// CheckToken validates an opaque token record before it is stored.
func CheckToken(rec TokenRecord) error {
	if err := CheckKey("token hash", rec.Hash); err != nil {
		return err
	}
	if rec.ExpiresAt.IsZero() {
		return errors.New("store: token record without expiry")
	}
	return nil
}

// CheckExpiring validates a keyed record that needs an expiry: a
// revocation (keyName "jti") or a marker ("marker key").
func CheckExpiring(record, keyName, key string, until time.Time) error {
	if err := CheckKey(keyName, []byte(key)); err != nil {
		return err
	}
	if until.IsZero() {
		return fmt.Errorf("store: %s without expiry", record)
	}
	return nil
}

// SessionKey validates a session's kind and id and returns the engine key
// "kind NUL id" (a kind holds no NUL, so keys of different kinds never meet).
func SessionKey(kind, id string) ([]byte, error) {
	if kind == "" || strings.IndexByte(kind, 0) >= 0 {
		return nil, fmt.Errorf("store: session kind %q must be non-empty and hold no NUL", kind)
	}
	k := []byte(kind + "\x00" + id)
	if id == "" {
		return nil, errors.New("store: empty session id")
	}
	if err := CheckKey("session key", k); err != nil {
		return nil, err
	}
	return k, nil
}

// CheckSession validates a session for PutSession and returns its key.
func CheckSession(s Session) ([]byte, error) {
	if s.ExpiresAt.IsZero() {
		return nil, errors.New("store: session without expiry")
	}
	return SessionKey(s.Kind, s.ID)
}

// CheckCode validates a code record for PutCode.
func CheckCode(rec CodeRecord) error {
	if err := CheckKey("code hash", rec.Hash); err != nil {
		return err
	}
	if rec.ExpiresAt.IsZero() {
		return errors.New("store: code without expiry")
	}
	return nil
}
