package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// metaClientsVersion is the meta key of the clients' change counter.
var metaClientsVersion = []byte("clients_version")

func bumpClientsVersion(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	return meta.Put(metaClientsVersion, binary.BigEndian.AppendUint64(nil, readClientsVersion(meta)+1))
}

func readClientsVersion(meta *bolt.Bucket) uint64 {
	if v := meta.Get(metaClientsVersion); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// ClientsVersion implements ClientStore.
func (b *Bolt) ClientsVersion(ctx context.Context) (uint64, error) {
	var v uint64
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v = readClientsVersion(tx.Bucket(bucketMeta))
		return nil
	})
	return v, err
}

// UpdateClient implements ClientStore: fn runs inside the write
// transaction (bbolt has one writer at a time), so it must not call back
// into the store.
func (b *Bolt) UpdateClient(ctx context.Context, id string, fn func(current *Client) (*Client, error)) (*Client, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := CheckKey("client id", []byte(id)); err != nil {
		return nil, err
	}
	var result *Client
	err := b.update(ctx, func(tx *bolt.Tx) error {
		bkt := tx.Bucket(bucketClients)
		var cur *Client
		if v := bkt.Get([]byte(id)); v != nil {
			cur = new(Client)
			if err := json.Unmarshal(v, cur); err != nil {
				return fmt.Errorf("store: corrupt client %q: %w", id, err)
			}
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next == nil {
			if cur == nil {
				result = nil
				return nil
			}
			if err := bkt.Delete([]byte(id)); err != nil {
				return err
			}
			result = nil
			return bumpClientsVersion(tx)
		}
		if next.ID != id {
			return fmt.Errorf("store: update of client %q returned client %q", id, next.ID)
		}
		data, err := Encode("client", next, b.maxRecord)
		if err != nil {
			return err
		}
		if err := bkt.Put([]byte(id), data); err != nil {
			return err
		}
		var stored Client
		if err := json.Unmarshal(data, &stored); err != nil {
			return err
		}
		result = &stored
		return bumpClientsVersion(tx)
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// SetNotBefore implements NotBeforeStore.
func (b *Bolt) SetNotBefore(ctx context.Context, nb NotBefore) error {
	if err := CheckNotBefore(nb); err != nil {
		return err
	}
	key := NotBeforeKey(nb.Issuer, nb.Kind, nb.ID)
	return b.update(ctx, func(tx *bolt.Tx) error {
		bkt := tx.Bucket(bucketNotBefore)
		if v := bkt.Get(key); v != nil {
			var old NotBefore
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("store: corrupt not-before %q: %w", key, err)
			}
			if !Expired(old.Until, b.now()) {
				nb = MergeNotBefore(old, nb)
			}
		}
		data, err := Encode("not-before", nb, b.maxRecord)
		if err != nil {
			return err
		}
		return bkt.Put(key, data)
	})
}

// NotBefores implements NotBeforeStore.
func (b *Bolt) NotBefores(ctx context.Context, issuer string) ([]NotBefore, error) {
	if err := CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	var out []NotBefore
	now := b.now()
	err := b.view(ctx, func(tx *bolt.Tx) error {
		prefix := NotBeforePrefix(issuer)
		c := tx.Bucket(bucketNotBefore).Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var nb NotBefore
			if err := json.Unmarshal(v, &nb); err != nil {
				return fmt.Errorf("store: corrupt not-before %q: %w", k, err)
			}
			if !Expired(nb.Until, now) {
				out = append(out, nb)
			}
		}
		return nil
	})
	return out, err
}
