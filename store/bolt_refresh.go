package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StartFamily implements RefreshStore.
func (b *Bolt) StartFamily(ctx context.Context, fam RefreshFamily, first *RefreshRecord) error {
	late := false
	err := b.batch(ctx, func(tx *bolt.Tx) error {
		stored, err := b.family(tx, fam.ID)
		if err != nil {
			return err
		}
		late = false
		if err := StartFamilyPlan(fam, first, stored); err != nil {
			if err == ErrFamilyRevoked {
				late = true
				return b.writeRotation(tx, LateStartPlan(fam, *stored, b.now()))
			}
			return err
		}
		fam.Revoked = false
		if err := b.putJSON(tx, bucketFamilies, []byte(fam.ID), "refresh family", fam); err != nil {
			return err
		}
		if first == nil {
			return nil
		}
		rec := *first
		rec.Spent = false
		return b.putJSON(tx, bucketRefresh, rec.Hash, "refresh token", rec)
	})
	if err == nil && late {
		return ErrFamilyRevoked
	}
	return err
}

// RotateRefresh implements RefreshStore: the read, the checks and every
// write happen in one write transaction, which bbolt serialises.
func (b *Bolt) RotateRefresh(ctx context.Context, hash []byte, next func(RefreshRecord) (RefreshRecord, error)) (RefreshRecord, RefreshFamily, error) {
	if err := CheckKey("refresh token hash", hash); err != nil {
		return RefreshRecord{}, RefreshFamily{}, err
	}
	var old RefreshRecord
	var fam RefreshFamily
	var outcome error
	err := b.batch(ctx, func(tx *bolt.Tx) error {
		old, fam, outcome = RefreshRecord{}, RefreshFamily{}, nil
		v := tx.Bucket(bucketRefresh).Get(hash)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("store: corrupt refresh token record: %w", err)
		}
		f, err := b.family(tx, old.FamilyID)
		if err != nil {
			return err
		}
		if f != nil {
			fam = *f
		}
		now := b.now()
		rot, err := RotatePlan(old, f, now, next)
		if err != nil && err != ErrRefreshReused {
			return err
		}
		outcome = err
		return b.writeRotation(tx, rot)
	})
	if err != nil {
		return old, fam, err
	}
	return old, fam, outcome
}

// GetRefresh implements RefreshStore.
func (b *Bolt) GetRefresh(ctx context.Context, hash []byte) (RefreshRecord, error) {
	if err := CheckKey("refresh token hash", hash); err != nil {
		return RefreshRecord{}, err
	}
	var rec RefreshRecord
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRefresh).Get(hash)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("store: corrupt refresh token record: %w", err)
		}
		if Expired(rec.ExpiresAt, b.now()) {
			return ErrNotFound
		}
		return nil
	})
	return rec, err
}

// RevokeFamily implements RefreshStore.
func (b *Bolt) RevokeFamily(ctx context.Context, id string, until time.Time) (RefreshFamily, error) {
	if err := CheckExpiring("family revocation", "family id", id, until); err != nil {
		return RefreshFamily{}, err
	}
	var before RefreshFamily
	err := b.batch(ctx, func(tx *bolt.Tx) error {
		f, err := b.family(tx, id)
		if err != nil {
			return err
		}
		now := b.now()
		if f == nil {
			f = &RefreshFamily{ID: id, ExpiresAt: until}
		}
		before = *f
		rot := RevokePlan(*f, now)
		if rot.Family.ExpiresAt.Before(until) {
			rot.Family.ExpiresAt = until
		}
		return b.writeRotation(tx, rot)
	})
	return before, err
}

// family reads a family record; nil when missing or expired.
func (b *Bolt) family(tx *bolt.Tx, id string) (*RefreshFamily, error) {
	if err := CheckKey("family id", []byte(id)); err != nil {
		return nil, err
	}
	v := tx.Bucket(bucketFamilies).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var f RefreshFamily
	if err := json.Unmarshal(v, &f); err != nil {
		return nil, fmt.Errorf("store: corrupt refresh family record: %w", err)
	}
	if Expired(f.ExpiresAt, b.now()) {
		return nil, nil
	}
	return &f, nil
}

// writeRotation writes what RotatePlan or RevokePlan decided.
func (b *Bolt) writeRotation(tx *bolt.Tx, rot Rotation) error {
	for _, a := range rot.Revoke {
		if err := b.revokeTx(tx, a.JTI, a.RevokeUntil); err != nil {
			return err
		}
	}
	if err := b.putJSON(tx, bucketFamilies, []byte(rot.Family.ID), "refresh family", rot.Family); err != nil {
		return err
	}
	if rot.Next.Hash != nil {
		if err := b.putJSON(tx, bucketRefresh, rot.Old.Hash, "refresh token", rot.Old); err != nil {
			return err
		}
		return b.putJSON(tx, bucketRefresh, rot.Next.Hash, "refresh token", rot.Next)
	}
	return nil
}

func (b *Bolt) putJSON(tx *bolt.Tx, bucket, key []byte, what string, v any) error {
	data, err := Encode(what, v, b.maxRecord)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, data)
}

// batch is update through bbolt's Batch: concurrent writers of the token
// endpoint share one commit (one fsync) instead of queueing for one each.
// fn may run more than once (after a failed batch, each fn runs alone), so
// it sets its results from scratch every time.
func (b *Bolt) batch(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	return b.closedErr(b.db.Batch(fn))
}
