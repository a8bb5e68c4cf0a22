package store

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutCode implements CodeStore.
func (b *Bolt) PutCode(ctx context.Context, rec CodeRecord) error {
	if err := CheckCode(rec); err != nil {
		return err
	}
	rec.Redeemed = false
	data, err := Encode("code", rec, b.maxRecord)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCodes).Put(rec.Hash, data)
	})
}

// RedeemCode implements CodeStore: the read and the write of the redeemed
// flag happen in one write transaction, which bbolt serialises (batched
// with concurrent redemptions and rotations, see batch).
func (b *Bolt) RedeemCode(ctx context.Context, hash []byte) (CodeRecord, bool, error) {
	if err := CheckKey("code hash", hash); err != nil {
		return CodeRecord{}, false, err
	}
	var rec CodeRecord
	first := false
	err := b.batch(ctx, func(tx *bolt.Tx) error {
		rec, first = CodeRecord{}, false
		bkt := tx.Bucket(bucketCodes)
		v := bkt.Get(hash)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("store: corrupt code record: %w", err)
		}
		if Expired(rec.ExpiresAt, b.now()) {
			return ErrNotFound
		}
		if rec.Redeemed {
			return nil
		}
		first = true
		rec.Redeemed = true
		data, err := Encode("code", rec, b.maxRecord)
		if err != nil {
			return err
		}
		return bkt.Put(hash, data)
	})
	if err != nil {
		return CodeRecord{}, false, err
	}
	return rec, first, nil
}
