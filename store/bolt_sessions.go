package store

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutSession implements SessionStore.
func (b *Bolt) PutSession(ctx context.Context, s Session) error {
	key, err := CheckSession(s)
	if err != nil {
		return err
	}
	data, err := Encode("session", s, b.maxRecord)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put(key, data)
	})
}

// GetSession implements SessionStore.
func (b *Bolt) GetSession(ctx context.Context, kind, id string) (Session, error) {
	key, err := SessionKey(kind, id)
	if err != nil {
		return Session{}, err
	}
	var s Session
	err = b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get(key)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("store: corrupt session record: %w", err)
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	if Expired(s.ExpiresAt, b.now()) {
		return Session{}, ErrNotFound
	}
	return s, nil
}

// DeleteSession implements SessionStore.
func (b *Bolt) DeleteSession(ctx context.Context, kind, id string) error {
	key, err := SessionKey(kind, id)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete(key)
	})
}
