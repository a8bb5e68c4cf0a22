package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// --- signing keys ----------------------------------------------------------

// signingKeyKey is the bolt key of an issuer's signing key: issuer NUL id.
func signingKeyKey(issuer, id string) []byte {
	return append(append([]byte(issuer), 0), id...)
}

func readSigningKeys(tx *bolt.Tx, issuer string) ([]SigningKey, error) {
	var keys []SigningKey
	prefix := signingKeyKey(issuer, "")
	c := tx.Bucket(bucketSigningKeys).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var sk SigningKey
		if err := json.Unmarshal(v, &sk); err != nil {
			return nil, fmt.Errorf("store: corrupt signing key %q: %w", k, err)
		}
		keys = append(keys, sk)
	}
	SortSigningKeys(keys)
	return keys, nil
}

// UpdateSigningKeys implements SigningKeyStore. fn runs inside the write
// transaction, so it must not call back into the store (that would
// deadlock). fn receives a copy it may modify.
func (b *Bolt) UpdateSigningKeys(ctx context.Context, issuer string, fn func(current []SigningKey) ([]SigningKey, error)) ([]SigningKey, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	var result []SigningKey
	err := b.update(ctx, func(tx *bolt.Tx) error {
		current, err := readSigningKeys(tx, issuer)
		if err != nil {
			return err
		}
		ids := make(map[string]bool, len(current))
		for _, k := range current {
			ids[k.ID] = true
		}
		next, err := fn(current)
		if err != nil {
			return err
		}
		next, encoded, err := PrepareSigningKeys(issuer, next, b.maxRecord)
		if err != nil {
			return err
		}
		bkt := tx.Bucket(bucketSigningKeys)
		for _, sk := range next {
			delete(ids, sk.ID)
		}
		for id := range ids {
			if err := bkt.Delete(signingKeyKey(issuer, id)); err != nil {
				return err
			}
		}
		for i, sk := range next {
			if err := bkt.Put(signingKeyKey(issuer, sk.ID), encoded[i]); err != nil {
				return err
			}
		}
		result = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// SigningKeys implements SigningKeyStore.
func (b *Bolt) SigningKeys(ctx context.Context, issuer string) ([]SigningKey, error) {
	var keys []SigningKey
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		keys, err = readSigningKeys(tx, issuer)
		return err
	})
	return keys, err
}

// --- tokens ----------------------------------------------------------------

// PutToken implements TokenStore. The record needs a hash and an expiry.
func (b *Bolt) PutToken(ctx context.Context, rec TokenRecord) error {
	if err := CheckToken(rec); err != nil {
		return err
	}
	data, err := Encode("token", rec, b.maxRecord)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).Put(rec.Hash, data)
	})
}

// GetToken implements TokenStore.
func (b *Bolt) GetToken(ctx context.Context, hash []byte) (TokenRecord, error) {
	if err := CheckKey("token hash", hash); err != nil {
		return TokenRecord{}, err
	}
	var rec TokenRecord
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get(hash)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("store: corrupt token record: %w", err)
		}
		return nil
	})
	if err != nil {
		return TokenRecord{}, err
	}
	if Expired(rec.ExpiresAt, b.now()) {
		return TokenRecord{}, ErrNotFound
	}
	return rec, nil
}

// DeleteToken implements TokenStore.
func (b *Bolt) DeleteToken(ctx context.Context, hash []byte) error {
	if err := CheckKey("token hash", hash); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).Delete(hash)
	})
}

// --- revocations -------------------------------------------------------------

// boltRevocation is a revocation with its place in the feed.
type boltRevocation struct {
	JTI   string    `json:"jti"`
	Until time.Time `json:"until"`
	Seq   uint64    `json:"seq,omitempty"`
}

// putRevocation stores r under the next feed sequence, dropping the feed
// entry r.Seq of the record it replaces (0: none).
func putRevocation(tx *bolt.Tx, r boltRevocation, encode func(any) ([]byte, error)) error {
	log := tx.Bucket(bucketRevocationLog)
	if r.Seq != 0 {
		if err := log.Delete(seqKey(r.Seq)); err != nil {
			return err
		}
	}
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	r.Seq = seq
	if encode == nil {
		encode = json.Marshal
	}
	data, err := encode(r)
	if err != nil {
		return err
	}
	if err := log.Put(seqKey(seq), []byte(r.JTI)); err != nil {
		return err
	}
	return tx.Bucket(bucketRevocations).Put([]byte(r.JTI), data)
}

// Revoke implements RevocationStore.
func (b *Bolt) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := CheckExpiring("revocation", "jti", jti, until); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error { return b.revokeTx(tx, jti, until) })
}

// revokeTx is Revoke inside a write transaction.
func (b *Bolt) revokeTx(tx *bolt.Tx, jti string, until time.Time) error {
	encode := func(v any) ([]byte, error) { return Encode("revocation", v, b.maxRecord) }
	r := boltRevocation{JTI: jti, Until: until}
	if v := tx.Bucket(bucketRevocations).Get([]byte(jti)); v != nil {
		var old boltRevocation
		if json.Unmarshal(v, &old) == nil {
			if !old.Until.Before(until) {
				return nil
			}
			r.Seq = old.Seq
		}
	}
	return putRevocation(tx, r, encode)
}

// RevocationsSince implements RevocationStore. The cursor is the decimal
// feed sequence last seen.
func (b *Bolt) RevocationsSince(ctx context.Context, cursor RevocationCursor) ([]Revocation, RevocationCursor, error) {
	var after uint64
	if cursor != "" {
		var err error
		if after, err = strconv.ParseUint(string(cursor), 10, 64); err != nil {
			return nil, cursor, fmt.Errorf("store: invalid revocation cursor %q", cursor)
		}
	}
	now := b.now()
	var out []Revocation
	var last uint64
	err := b.view(ctx, func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketRevocationLog)
		revs := tx.Bucket(bucketRevocations)
		last = log.Sequence()
		if after > last {
			after = 0 // a cursor from before the file was replaced
		}
		c := log.Cursor()
		for k, jti := c.Seek(seqKey(after + 1)); k != nil; k, jti = c.Next() {
			v := revs.Get(jti)
			if v == nil {
				continue
			}
			var r boltRevocation
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("store: corrupt revocation %q: %w", jti, err)
			}
			if !Expired(r.Until, now) {
				out = append(out, Revocation{JTI: r.JTI, Until: r.Until})
			}
		}
		return nil
	})
	if err != nil {
		return nil, cursor, err
	}
	return out, RevocationCursor(strconv.FormatUint(last, 10)), nil
}

// --- single-use markers ----------------------------------------------------

type marker struct {
	Until time.Time `json:"until"`
}

// MarkUsed implements ReplayStore. An expired marker is overwritten and
// counts as a first use.
func (b *Bolt) MarkUsed(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := CheckExpiring("marker", "marker key", key, until); err != nil {
		return false, err
	}
	data, err := Encode("marker", marker{Until: until}, b.maxRecord)
	if err != nil {
		return false, err
	}
	first := false
	err = b.update(ctx, func(tx *bolt.Tx) error {
		bkt := tx.Bucket(bucketMarkers)
		if v := bkt.Get([]byte(key)); v != nil {
			var m marker
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("store: corrupt marker: %w", err)
			}
			if !Expired(m.Until, b.now()) {
				return nil
			}
		}
		first = true
		return bkt.Put([]byte(key), data)
	})
	if err != nil {
		return false, err
	}
	return first, nil
}

// --- clients -----------------------------------------------------------------

// PutClient implements ClientStore.
func (b *Bolt) PutClient(ctx context.Context, c Client) error {
	if err := CheckKey("client id", []byte(c.ID)); err != nil {
		return err
	}
	data, err := Encode("client", c, b.maxRecord)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).Put([]byte(c.ID), data)
	})
}

// GetClient implements ClientStore.
func (b *Bolt) GetClient(ctx context.Context, id string) (Client, error) {
	if err := CheckKey("client id", []byte(id)); err != nil {
		return Client{}, err
	}
	var c Client
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketClients).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("store: corrupt client %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Client{}, err
	}
	return c, nil
}

// DeleteClient implements ClientStore.
func (b *Bolt) DeleteClient(ctx context.Context, id string) error {
	if err := CheckKey("client id", []byte(id)); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).Delete([]byte(id))
	})
}

// Clients implements ClientStore.
func (b *Bolt) Clients(ctx context.Context) ([]Client, error) {
	var out []Client
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).ForEach(func(k, v []byte) error {
			var c Client
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("store: corrupt client %q: %w", k, err)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
