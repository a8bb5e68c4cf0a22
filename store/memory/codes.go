package memory

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/authgate/caddy-authgate/store"
)

// PutCode implements store.CodeStore.
func (s *Store) PutCode(ctx context.Context, rec store.CodeRecord) error {
	if err := store.CheckCode(rec); err != nil {
		return err
	}
	rec.Redeemed = false
	data, err := store.Encode("code", rec, s.maxRecord)
	if err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.codes[string(rec.Hash)] = expiring{data: data, until: rec.ExpiresAt}
	return nil
}

// RedeemCode implements store.CodeStore; the mutex makes it atomic.
func (s *Store) RedeemCode(ctx context.Context, hash []byte) (store.CodeRecord, bool, error) {
	if err := store.CheckKey("code hash", hash); err != nil {
		return store.CodeRecord{}, false, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return store.CodeRecord{}, false, err
	}
	defer s.mu.Unlock()
	r, ok := s.codes[string(hash)]
	if !ok || store.Expired(r.until, s.now()) {
		return store.CodeRecord{}, false, store.ErrNotFound
	}
	var rec store.CodeRecord
	if err := json.Unmarshal(r.data, &rec); err != nil {
		return store.CodeRecord{}, false, fmt.Errorf("memory: corrupt code record: %w", err)
	}
	if rec.Redeemed {
		return rec, false, nil
	}
	rec.Redeemed = true
	data, err := json.Marshal(rec)
	if err != nil {
		return store.CodeRecord{}, false, err
	}
	s.codes[string(hash)] = expiring{data: data, until: r.until}
	return rec, true, nil
}
