package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the on-disk layout version written to the meta bucket.
// OpenBolt refuses a file written by a newer version.
const SchemaVersion = 1

// Defaults and limits of the bbolt engine.
const (
	// DefaultLockTimeout is how long OpenBolt waits for the file lock.
	DefaultLockTimeout = 2 * time.Second
	// DefaultMaxRecordSize caps one encoded record, so that a hostile client
	// registration (or any other oversized input) cannot bloat the file.
	DefaultMaxRecordSize = 64 << 10
	// MaxKeySize caps a record key (signing key id, token hash, jti, marker
	// key, client id), far below bbolt's own limit of 32 KiB.
	MaxKeySize = 1024
)

var (
	bucketSigningKeys = []byte("signing_keys")
	bucketTokens      = []byte("tokens")
	bucketRevocations = []byte("revocations")
	bucketMarkers     = []byte("markers")
	bucketClients     = []byte("clients")
	bucketMeta        = []byte("meta")

	allBuckets = [][]byte{bucketSigningKeys, bucketTokens, bucketRevocations, bucketMarkers, bucketClients, bucketMeta}

	metaSchemaVersion = []byte("schema_version")
)

// ErrLocked is returned (wrapped) by OpenBolt when another process holds the
// database file.
var ErrLocked = errors.New("database file is locked by another process")

// BoltOptions tune OpenBolt. The zero value is ready to use.
type BoltOptions struct {
	// LockTimeout bounds the wait for the file lock; default 2s. Another
	// process (or another open handle) holding the file makes OpenBolt fail
	// with ErrLocked after this long instead of hanging.
	LockTimeout time.Duration
	// Now is the clock used for expiry checks; default time.Now.
	Now func() time.Time
	// MaxRecordSize caps one encoded record in bytes; default 64 KiB.
	MaxRecordSize int
}

// Bolt is the embedded bbolt engine of Store. It is safe for concurrent use
// within one process; the file lock keeps other processes out.
type Bolt struct {
	db        *bolt.DB
	path      string
	now       func() time.Time
	maxRecord int

	mu       sync.Mutex // guards isClosed and wg.Add against Close
	isClosed bool
	closed   chan struct{}
	wg       sync.WaitGroup // purger goroutines
	closeErr error
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens (creating when missing) the database at path. Parent
// directories are created with mode 0700 and the file with mode 0600. Every
// write is fsynced on commit.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = DefaultMaxRecordSize
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: creating directory for %s: %w", path, err)
	}
	// The file holds private signing keys: an existing file readable by
	// others is tightened to 0600 (bbolt sets the mode only on creation).
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("store: %s is readable by others and cannot be restricted: %w", path, err)
		}
	}
	// NoSync stays false (bbolt's default): every commit is fsynced.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("store: %s is locked by another process (waited %s): %w", path, opts.LockTimeout, ErrLocked)
		}
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Bolt{
		db:        db,
		path:      path,
		now:       opts.Now,
		maxRecord: opts.MaxRecordSize,
		closed:    make(chan struct{}),
	}, nil
}

func initSchema(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(metaSchemaVersion); v != nil {
		have, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("corrupt schema version %q", v)
		}
		if have > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than this build supports (%d); upgrade authgate", have, SchemaVersion)
		}
		if have == SchemaVersion {
			return nil
		}
		// Older versions: migrations go here when the layout changes.
	}
	return meta.Put(metaSchemaVersion, []byte(strconv.Itoa(SchemaVersion)))
}

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// Close stops purgers started with StartPurger and releases the file.
// Calling it again is a no-op.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.isClosed {
		b.mu.Unlock()
		return b.closeErr
	}
	b.isClosed = true
	close(b.closed)
	b.mu.Unlock()
	b.wg.Wait()
	err := b.db.Close()
	b.mu.Lock()
	b.closeErr = err
	b.mu.Unlock()
	return err
}

// StartPurger runs Purge every `every` (default 10 minutes), first right
// away, until ctx is done or the store is closed. logf, when not nil, is
// called after every run with the number of records removed and any error.
func (b *Bolt) StartPurger(ctx context.Context, every time.Duration, logf func(n int, err error)) {
	if every <= 0 {
		every = 10 * time.Minute
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			n, err := b.Purge(ctx, b.now())
			if logf != nil && ctx.Err() == nil {
				logf(n, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-b.closed:
				return
			case <-t.C:
			}
		}
	}()
}

// --- helpers -------------------------------------------------------------

// expired reports whether a record valid until `until` is no longer valid at
// now. The same rule is used by the getters and by Purge.
func expired(until, now time.Time) bool { return !until.After(now) }

func checkKey(what string, k []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("store: empty %s", what)
	}
	if len(k) > MaxKeySize {
		return fmt.Errorf("store: %s of %d bytes exceeds the limit of %d", what, len(k), MaxKeySize)
	}
	return nil
}

func (b *Bolt) encode(what string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encoding %s: %w", what, err)
	}
	if len(data) > b.maxRecord {
		return nil, fmt.Errorf("store: %s record of %d bytes exceeds the limit of %d", what, len(data), b.maxRecord)
	}
	return data, nil
}

func (b *Bolt) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(fn)
}

func (b *Bolt) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(fn)
}

// --- signing keys ----------------------------------------------------------

func sortSigningKeys(keys []SigningKey) {
	sort.SliceStable(keys, func(i, j int) bool {
		if !keys[i].CreatedAt.Equal(keys[j].CreatedAt) {
			return keys[i].CreatedAt.Before(keys[j].CreatedAt)
		}
		return keys[i].ID < keys[j].ID
	})
}

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
	sortSigningKeys(keys)
	return keys, nil
}

// UpdateSigningKeys implements Store. fn runs inside the write transaction,
// so it must not call back into the store (that would deadlock). fn receives
// a copy it may modify; the keys it returns replace the bucket's contents.
func (b *Bolt) UpdateSigningKeys(ctx context.Context, issuer string, fn func(current []SigningKey) ([]SigningKey, error)) ([]SigningKey, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := checkKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	var result []SigningKey
	err := b.update(ctx, func(tx *bolt.Tx) error {
		current, err := readSigningKeys(tx, issuer)
		if err != nil {
			return err
		}
		next, err := fn(current)
		if err != nil {
			return err
		}
		next = append([]SigningKey(nil), next...)
		seen := make(map[string]bool, len(next))
		encoded := make([][]byte, len(next))
		for i := range next {
			next[i].Issuer = issuer
			sk := next[i]
			if err := checkKey("signing key id", []byte(sk.ID)); err != nil {
				return err
			}
			if seen[sk.ID] {
				return fmt.Errorf("store: duplicate signing key id %q", sk.ID)
			}
			seen[sk.ID] = true
			if sk.Alg == "" || len(sk.Private) == 0 {
				return fmt.Errorf("store: signing key %q needs an algorithm and key material", sk.ID)
			}
			if encoded[i], err = b.encode("signing key", sk); err != nil {
				return err
			}
		}
		bkt := tx.Bucket(bucketSigningKeys)
		for _, old := range current {
			if !seen[old.ID] {
				if err := bkt.Delete(signingKeyKey(issuer, old.ID)); err != nil {
					return err
				}
			}
		}
		for i, sk := range next {
			if err := bkt.Put(signingKeyKey(issuer, sk.ID), encoded[i]); err != nil {
				return err
			}
		}
		sortSigningKeys(next)
		result = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// SigningKeys implements Store: the issuer's keys, sorted by CreatedAt then ID.
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

// PutToken implements Store. The record needs a hash and an expiry.
func (b *Bolt) PutToken(ctx context.Context, rec TokenRecord) error {
	if err := checkKey("token hash", rec.Hash); err != nil {
		return err
	}
	if rec.ExpiresAt.IsZero() {
		return errors.New("store: token record without expiry")
	}
	data, err := b.encode("token", rec)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).Put(rec.Hash, data)
	})
}

// GetToken implements Store.
func (b *Bolt) GetToken(ctx context.Context, hash []byte) (TokenRecord, error) {
	if err := checkKey("token hash", hash); err != nil {
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
	if expired(rec.ExpiresAt, b.now()) {
		return TokenRecord{}, ErrNotFound
	}
	return rec, nil
}

// DeleteToken implements Store.
func (b *Bolt) DeleteToken(ctx context.Context, hash []byte) error {
	if err := checkKey("token hash", hash); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).Delete(hash)
	})
}

// --- revocations -------------------------------------------------------------

// Revoke implements Store. Revoking a jti again keeps the later `until`.
func (b *Bolt) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := checkKey("jti", []byte(jti)); err != nil {
		return err
	}
	if until.IsZero() {
		return errors.New("store: revocation without expiry")
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		bkt := tx.Bucket(bucketRevocations)
		if v := bkt.Get([]byte(jti)); v != nil {
			var old Revocation
			if json.Unmarshal(v, &old) == nil && old.Until.After(until) {
				return nil
			}
		}
		data, err := b.encode("revocation", Revocation{JTI: jti, Until: until})
		if err != nil {
			return err
		}
		return bkt.Put([]byte(jti), data)
	})
}

// Revocations implements Store, ordered by jti.
func (b *Bolt) Revocations(ctx context.Context) ([]Revocation, error) {
	now := b.now()
	var out []Revocation
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevocations).ForEach(func(k, v []byte) error {
			var r Revocation
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("store: corrupt revocation %q: %w", k, err)
			}
			if !expired(r.Until, now) {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// --- single-use markers ----------------------------------------------------

type marker struct {
	Until time.Time `json:"until"`
}

// MarkUsed implements Store. An expired marker is overwritten and counts as
// a first use.
func (b *Bolt) MarkUsed(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := checkKey("marker key", []byte(key)); err != nil {
		return false, err
	}
	if until.IsZero() {
		return false, errors.New("store: marker without expiry")
	}
	data, err := b.encode("marker", marker{Until: until})
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
			if !expired(m.Until, b.now()) {
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

// PutClient implements Store; it replaces a client with the same ID.
func (b *Bolt) PutClient(ctx context.Context, c Client) error {
	if err := checkKey("client id", []byte(c.ID)); err != nil {
		return err
	}
	data, err := b.encode("client", c)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).Put([]byte(c.ID), data)
	})
}

// GetClient implements Store.
func (b *Bolt) GetClient(ctx context.Context, id string) (Client, error) {
	if err := checkKey("client id", []byte(id)); err != nil {
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

// DeleteClient implements Store; deleting a missing client is not an error.
func (b *Bolt) DeleteClient(ctx context.Context, id string) error {
	if err := checkKey("client id", []byte(id)); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).Delete([]byte(id))
	})
}

// Clients implements Store, ordered by ID.
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

// --- purge -------------------------------------------------------------------

// Purge implements Store in one write transaction. Records whose expiry is at
// or before now are removed, and signing keys whose non-zero ExpiresAt is.
// Records that cannot be decoded are left alone (and keep failing loudly in
// the getters) rather than silently deleted.
func (b *Bolt) Purge(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := b.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		type expiring struct {
			Exp       time.Time `json:"exp"`        // tokens
			Until     time.Time `json:"until"`      // revocations, markers
			ExpiresAt time.Time `json:"expires_at"` // signing keys
		}
		purge := func(name []byte, when func(e *expiring) time.Time) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			bkt := tx.Bucket(name)
			var doomed [][]byte
			err := bkt.ForEach(func(k, v []byte) error {
				var e expiring
				if json.Unmarshal(v, &e) != nil {
					return nil
				}
				if t := when(&e); !t.IsZero() && expired(t, now) {
					doomed = append(doomed, append([]byte(nil), k...))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range doomed {
				if err := bkt.Delete(k); err != nil {
					return err
				}
			}
			n += len(doomed)
			return nil
		}
		if err := purge(bucketTokens, func(e *expiring) time.Time { return e.Exp }); err != nil {
			return err
		}
		if err := purge(bucketRevocations, func(e *expiring) time.Time { return e.Until }); err != nil {
			return err
		}
		if err := purge(bucketMarkers, func(e *expiring) time.Time { return e.Until }); err != nil {
			return err
		}
		return purge(bucketSigningKeys, func(e *expiring) time.Time { return e.ExpiresAt })
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
