package store

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutUser implements UserStore.
func (b *Bolt) PutUser(ctx context.Context, u UserRecord) error {
	if err := CheckKey("user name", []byte(u.Name)); err != nil {
		return err
	}
	data, err := Encode("user", u, b.maxRecord)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).Put([]byte(u.Name), data)
	})
}

// GetUser implements UserStore.
func (b *Bolt) GetUser(ctx context.Context, name string) (UserRecord, error) {
	if err := CheckKey("user name", []byte(name)); err != nil {
		return UserRecord{}, err
	}
	var u UserRecord
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUsers).Get([]byte(name))
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("store: corrupt user %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return UserRecord{}, err
	}
	return u, nil
}

// DeleteUser implements UserStore.
func (b *Bolt) DeleteUser(ctx context.Context, name string) error {
	if err := CheckKey("user name", []byte(name)); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).Delete([]byte(name))
	})
}

// Users implements UserStore.
func (b *Bolt) Users(ctx context.Context) ([]UserRecord, error) {
	var out []UserRecord
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u UserRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("store: corrupt user %q: %w", k, err)
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
