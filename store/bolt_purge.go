package store

import (
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Purge deletes, in one write transaction, tokens, revocations (with their
// feed entries), markers, sessions, codes, refresh tokens and families whose expiry is at or before
// now, and signing keys whose non-zero ExpiresAt is. It returns how many records it removed.
// The engine's purger calls it; records that cannot be decoded are left
// alone (and keep failing loudly in the getters) rather than silently
// deleted.
func (b *Bolt) Purge(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := b.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		type expiring struct {
			Exp       time.Time `json:"exp"`        // tokens
			Until     time.Time `json:"until"`      // revocations, markers
			ExpiresAt time.Time `json:"expires_at"` // signing keys, sessions, codes
			Seq       uint64    `json:"seq"`        // revocations
		}
		purge := func(name []byte, when func(e *expiring) time.Time, also func(e *expiring) error) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			bkt := tx.Bucket(name)
			var doomed [][]byte
			var records []expiring
			err := bkt.ForEach(func(k, v []byte) error {
				var e expiring
				if json.Unmarshal(v, &e) != nil {
					return nil
				}
				if t := when(&e); !t.IsZero() && Expired(t, now) {
					doomed = append(doomed, append([]byte(nil), k...))
					records = append(records, e)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for i, k := range doomed {
				if err := bkt.Delete(k); err != nil {
					return err
				}
				if also != nil {
					if err := also(&records[i]); err != nil {
						return err
					}
				}
			}
			n += len(doomed)
			return nil
		}
		for _, name := range [][]byte{bucketTokens, bucketRefresh} {
			if err := purge(name, func(e *expiring) time.Time { return e.Exp }, nil); err != nil {
				return err
			}
		}
		dropFeedEntry := func(e *expiring) error {
			if e.Seq == 0 {
				return nil
			}
			return tx.Bucket(bucketRevocationLog).Delete(seqKey(e.Seq))
		}
		if err := purge(bucketRevocations, func(e *expiring) time.Time { return e.Until }, dropFeedEntry); err != nil {
			return err
		}
		if err := purge(bucketMarkers, func(e *expiring) time.Time { return e.Until }, nil); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketSessions, bucketCodes, bucketFamilies} {
			if err := purge(name, func(e *expiring) time.Time { return e.ExpiresAt }, nil); err != nil {
				return err
			}
		}
		return purge(bucketSigningKeys, func(e *expiring) time.Time { return e.ExpiresAt }, nil)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
