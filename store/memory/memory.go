// Package memory is an in-memory storage engine: every role of package
// store, nothing on disk. Handler unit tests use it, and the
// `authgate.storage.memory` module offers it for trying authgate out; its
// records die with the process (a config reload keeps them).
//
// Records are kept JSON-encoded, exactly as the bbolt engine writes them,
// so both enforce the same size limits and callers never share memory with
// the engine. It passes store/storetest.
package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// sweepEvery is how often (by the engine's clock, checked on writes)
// expired records are dropped.
const sweepEvery = time.Minute

// Options tune New. The zero value is ready to use.
type Options struct {
	// Now is the clock used for expiry; default time.Now.
	Now func() time.Time
	// MaxRecordSize caps one encoded record in bytes; default
	// store.DefaultMaxRecordSize.
	MaxRecordSize int
}

// Store is the in-memory engine. One mutex guards everything: it is meant
// for tests and small single-instance setups, not for load.
type Store struct {
	now       func() time.Time
	maxRecord int

	mu         sync.Mutex
	closed     bool
	lastSweep  time.Time
	keys       map[string]map[string][]byte // issuer -> kid -> SigningKey
	tokens     map[string][]byte            // hash -> TokenRecord
	revs       map[string]revocation        // jti -> revocation
	revSeq     uint64                       // feed sequence of the last Revoke
	markers    map[string]time.Time         // key -> until
	clients    map[string][]byte            // id -> Client
	tokenUntil map[string]time.Time         // hash -> ExpiresAt, for the sweep
	sessions   map[string]expiring          // kind NUL id -> Session
	codes      map[string]expiring          // hash -> CodeRecord
	refresh    map[string]expiring          // hash -> RefreshRecord
	families   map[string]expiring          // id -> RefreshFamily
	users      map[string][]byte            // name -> UserRecord
}

// expiring is an encoded record with its expiry, for the sweep.
type expiring struct {
	data  []byte
	until time.Time
}

type revocation struct {
	until time.Time
	seq   uint64
}

var _ store.Engine = (*Store)(nil)

// New returns an empty engine.
func New(opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = store.DefaultMaxRecordSize
	}
	return &Store{
		now:        opts.Now,
		maxRecord:  opts.MaxRecordSize,
		lastSweep:  opts.Now(),
		keys:       make(map[string]map[string][]byte),
		tokens:     make(map[string][]byte),
		revs:       make(map[string]revocation),
		markers:    make(map[string]time.Time),
		clients:    make(map[string][]byte),
		tokenUntil: make(map[string]time.Time),
		sessions:   make(map[string]expiring),
		codes:      make(map[string]expiring),
		refresh:    make(map[string]expiring),
		families:   make(map[string]expiring),
		users:      make(map[string][]byte),
	}
}

// Close implements store.Engine; later calls fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// lock takes the mutex after checking ctx; it fails on a closed engine.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("%w (memory)", store.ErrClosed)
	}
	return nil
}

// lockWrite is lock plus the periodic sweep of expired records.
func (s *Store) lockWrite(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	if now := s.now(); now.Sub(s.lastSweep) >= sweepEvery {
		s.lastSweep = now
		s.sweep(now)
	}
	return nil
}

func (s *Store) sweep(now time.Time) {
	for h, until := range s.tokenUntil {
		if store.Expired(until, now) {
			delete(s.tokens, h)
			delete(s.tokenUntil, h)
		}
	}
	for jti, r := range s.revs {
		if store.Expired(r.until, now) {
			delete(s.revs, jti)
		}
	}
	for _, m := range []map[string]expiring{s.sessions, s.codes, s.refresh, s.families} {
		for k, r := range m {
			if store.Expired(r.until, now) {
				delete(m, k)
			}
		}
	}
	for k, until := range s.markers {
		if store.Expired(until, now) {
			delete(s.markers, k)
		}
	}
	for _, keys := range s.keys {
		for id, data := range keys {
			var sk store.SigningKey
			if json.Unmarshal(data, &sk) == nil && !sk.ExpiresAt.IsZero() && store.Expired(sk.ExpiresAt, now) {
				delete(keys, id)
			}
		}
	}
}

// --- signing keys ----------------------------------------------------------

func decodeKeys(m map[string][]byte) ([]store.SigningKey, error) {
	var out []store.SigningKey
	for _, data := range m {
		var sk store.SigningKey
		if err := json.Unmarshal(data, &sk); err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	store.SortSigningKeys(out)
	return out, nil
}

// UpdateSigningKeys implements store.SigningKeyStore.
func (s *Store) UpdateSigningKeys(ctx context.Context, issuer string, fn func([]store.SigningKey) ([]store.SigningKey, error)) ([]store.SigningKey, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := store.CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	current, err := decodeKeys(s.keys[issuer])
	if err != nil {
		return nil, err
	}
	next, err := fn(current)
	if err != nil {
		return nil, err
	}
	next, encoded, err := store.PrepareSigningKeys(issuer, next, s.maxRecord)
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(next))
	for i, sk := range next {
		m[sk.ID] = encoded[i]
	}
	s.keys[issuer] = m
	return decodeKeys(m) // a copy the caller may keep
}

// SigningKeys implements store.SigningKeyStore.
func (s *Store) SigningKeys(ctx context.Context, issuer string) ([]store.SigningKey, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return decodeKeys(s.keys[issuer])
}

// --- tokens ----------------------------------------------------------------

// PutToken implements store.TokenStore.
func (s *Store) PutToken(ctx context.Context, rec store.TokenRecord) error {
	if err := store.CheckToken(rec); err != nil {
		return err
	}
	data, err := store.Encode("token", rec, s.maxRecord)
	if err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.tokens[string(rec.Hash)] = data
	s.tokenUntil[string(rec.Hash)] = rec.ExpiresAt
	return nil
}

// GetToken implements store.TokenStore.
func (s *Store) GetToken(ctx context.Context, hash []byte) (store.TokenRecord, error) {
	if err := store.CheckKey("token hash", hash); err != nil {
		return store.TokenRecord{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.TokenRecord{}, err
	}
	data, ok := s.tokens[string(hash)]
	s.mu.Unlock()
	if !ok {
		return store.TokenRecord{}, store.ErrNotFound
	}
	var rec store.TokenRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return store.TokenRecord{}, err
	}
	if store.Expired(rec.ExpiresAt, s.now()) {
		return store.TokenRecord{}, store.ErrNotFound
	}
	return rec, nil
}

// DeleteToken implements store.TokenStore.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if err := store.CheckKey("token hash", hash); err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.tokens, string(hash))
	delete(s.tokenUntil, string(hash))
	return nil
}

// --- revocations -------------------------------------------------------------

// Revoke implements store.RevocationStore.
func (s *Store) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := store.CheckExpiring("revocation", "jti", jti, until); err != nil {
		return err
	}
	if _, err := store.Encode("revocation", store.Revocation{JTI: jti, Until: until}, s.maxRecord); err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.revokeLocked(jti, until)
	return nil
}

// revokeLocked is Revoke with the mutex held.
func (s *Store) revokeLocked(jti string, until time.Time) {
	if old, ok := s.revs[jti]; ok && !old.until.Before(until) {
		return
	}
	s.revSeq++
	s.revs[jti] = revocation{until: until, seq: s.revSeq}
}

// RevocationsSince implements store.RevocationStore: the cursor is the
// decimal feed sequence last seen. It scans every revocation (fine for the
// sizes this engine is for).
func (s *Store) RevocationsSince(ctx context.Context, cursor store.RevocationCursor) ([]store.Revocation, store.RevocationCursor, error) {
	var after uint64
	if cursor != "" {
		var err error
		if after, err = strconv.ParseUint(string(cursor), 10, 64); err != nil {
			return nil, cursor, fmt.Errorf("store: invalid revocation cursor %q", cursor)
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, cursor, err
	}
	defer s.mu.Unlock()
	if after > s.revSeq {
		after = 0 // a cursor of another engine instance
	}
	now := s.now()
	type entry struct {
		r   store.Revocation
		seq uint64
	}
	var found []entry
	for jti, r := range s.revs {
		if r.seq > after && !store.Expired(r.until, now) {
			found = append(found, entry{store.Revocation{JTI: jti, Until: r.until}, r.seq})
		}
	}
	slices.SortFunc(found, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]store.Revocation, len(found))
	for i, e := range found {
		out[i] = e.r
	}
	return out, store.RevocationCursor(strconv.FormatUint(s.revSeq, 10)), nil
}

// --- single-use markers ----------------------------------------------------

// MarkUsed implements store.ReplayStore.
func (s *Store) MarkUsed(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := store.CheckExpiring("marker", "marker key", key, until); err != nil {
		return false, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if old, ok := s.markers[key]; ok && !store.Expired(old, s.now()) {
		return false, nil
	}
	s.markers[key] = until
	return true, nil
}

// --- clients -----------------------------------------------------------------

// PutClient implements store.ClientStore.
func (s *Store) PutClient(ctx context.Context, c store.Client) error {
	if err := store.CheckKey("client id", []byte(c.ID)); err != nil {
		return err
	}
	data, err := store.Encode("client", c, s.maxRecord)
	if err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.clients[c.ID] = data
	return nil
}

// GetClient implements store.ClientStore.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	if err := store.CheckKey("client id", []byte(id)); err != nil {
		return store.Client{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.Client{}, err
	}
	data, ok := s.clients[id]
	s.mu.Unlock()
	if !ok {
		return store.Client{}, store.ErrNotFound
	}
	var c store.Client
	err := json.Unmarshal(data, &c)
	return c, err
}

// DeleteClient implements store.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := store.CheckKey("client id", []byte(id)); err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.clients, id)
	return nil
}

// Clients implements store.ClientStore.
func (s *Store) Clients(ctx context.Context) ([]store.Client, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []store.Client
	for _, id := range ids {
		var c store.Client
		if err := json.Unmarshal(s.clients[id], &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
