package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the on-disk layout version written to the meta bucket.
// OpenBolt refuses a file written by a newer version and migrates older
// ones. Version 2 added the revocation feed.
const SchemaVersion = 2

// Defaults of the bbolt engine.
const (
	// DefaultLockTimeout is how long OpenBolt waits for the file lock.
	DefaultLockTimeout = 2 * time.Second
	// DefaultPurgeEvery is how often the engine deletes expired records.
	DefaultPurgeEvery = 10 * time.Minute
)

var (
	bucketSigningKeys   = []byte("signing_keys")
	bucketTokens        = []byte("tokens")
	bucketRevocations   = []byte("revocations")
	bucketRevocationLog = []byte("revocation_log") // feed sequence -> jti
	bucketMarkers       = []byte("markers")
	bucketClients       = []byte("clients")
	bucketSessions      = []byte("sessions")         // kind NUL id -> Session
	bucketCodes         = []byte("codes")            // code hash -> CodeRecord
	bucketRefresh       = []byte("refresh_tokens")   // refresh token hash -> RefreshRecord
	bucketFamilies      = []byte("refresh_families") // family id -> RefreshFamily
	bucketUsers         = []byte("users")            // name -> UserRecord
	bucketMeta          = []byte("meta")

	allBuckets = [][]byte{bucketSigningKeys, bucketTokens, bucketRevocations, bucketRevocationLog, bucketMarkers, bucketClients, bucketSessions, bucketCodes, bucketRefresh, bucketFamilies, bucketUsers, bucketMeta}

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
	// Now is the clock used for expiry; default time.Now.
	Now func() time.Time
	// MaxRecordSize caps one encoded record in bytes; default
	// DefaultMaxRecordSize.
	MaxRecordSize int
	// PurgeEvery is how often expired records are deleted, first right
	// after open; default DefaultPurgeEvery, negative: never.
	PurgeEvery time.Duration
	// Logger receives the purger's results; default none.
	Logger *slog.Logger
}

// Bolt is the embedded bbolt engine. It is safe for concurrent use within
// one process; the file lock keeps other processes out. It owns a purger
// goroutine from OpenBolt to Close.
type Bolt struct {
	db        *bolt.DB
	path      string
	now       func() time.Time
	maxRecord int
	log       *slog.Logger

	closed    atomic.Bool
	cancel    context.CancelFunc // stops the purger
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ Engine = (*Bolt)(nil)

// OpenBolt opens (creating when missing) the database at path and starts
// its purger. Parent directories are created with mode 0700 and the file
// with mode 0600. Every write is fsynced on commit.
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
	if opts.PurgeEvery == 0 {
		opts.PurgeEvery = DefaultPurgeEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
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
	// Batched writes (codes, refresh tokens) wait at most this long for
	// company before committing.
	db.MaxBatchDelay = 2 * time.Millisecond
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	b := &Bolt{
		db:        db,
		path:      path,
		now:       opts.Now,
		maxRecord: opts.MaxRecordSize,
		log:       opts.Logger,
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	if opts.PurgeEvery > 0 {
		b.wg.Add(1)
		go b.purger(ctx, opts.PurgeEvery)
	}
	return b, nil
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
		if have < 2 {
			if err := migrateRevocationFeed(tx); err != nil {
				return fmt.Errorf("migrating to schema 2: %w", err)
			}
		}
	}
	return meta.Put(metaSchemaVersion, []byte(strconv.Itoa(SchemaVersion)))
}

// migrateRevocationFeed gives every revocation of a version 1 file its
// place in the feed (in jti order).
func migrateRevocationFeed(tx *bolt.Tx) error {
	revs := tx.Bucket(bucketRevocations)
	var all []boltRevocation
	if err := revs.ForEach(func(k, v []byte) error {
		var r boltRevocation
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("corrupt revocation %q: %w", k, err)
		}
		all = append(all, r)
		return nil
	}); err != nil {
		return err
	}
	for _, r := range all {
		if err := putRevocation(tx, r, nil); err != nil {
			return err
		}
	}
	return nil
}

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// Close stops the purger (waiting for a running purge to stop) and releases
// the file. Calling it again is a no-op.
func (b *Bolt) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.cancel()
		b.wg.Wait()
		b.closeErr = b.db.Close()
	})
	return b.closeErr
}

// purger runs Purge every `every`, first right away, until Close.
func (b *Bolt) purger(ctx context.Context, every time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := b.Purge(ctx, b.now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			b.log.Error("purging expired records failed", slog.String("path", b.path), slog.String("error", err.Error()))
		case n > 0:
			b.log.Debug("purged expired records", slog.String("path", b.path), slog.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// --- transactions ------------------------------------------------------------

func (b *Bolt) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	return b.closedErr(b.db.Update(fn))
}

func (b *Bolt) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	return b.closedErr(b.db.View(fn))
}

func (b *Bolt) usable(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("%w (%s)", ErrClosed, b.path)
	}
	return ctx.Err()
}

// closedErr maps bbolt's error for a transaction that raced Close.
func (b *Bolt) closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w (%s)", ErrClosed, b.path)
	}
	return err
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
