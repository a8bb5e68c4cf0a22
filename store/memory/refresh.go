package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// StartFamily implements store.RefreshStore.
func (s *Store) StartFamily(ctx context.Context, fam store.RefreshFamily, first *store.RefreshRecord) error {
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	stored, err := s.family(fam.ID)
	if err != nil {
		return err
	}
	if err := store.StartFamilyPlan(fam, first, stored); err != nil {
		if err == store.ErrFamilyRevoked {
			if werr := s.writeRotation(store.LateStartPlan(fam, *stored, s.now())); werr != nil {
				return werr
			}
		}
		return err
	}
	fam.Revoked = false
	famData, err := store.Encode("refresh family", fam, s.maxRecord)
	if err != nil {
		return err
	}
	if first != nil {
		rec := *first
		rec.Spent = false
		data, err := store.Encode("refresh token", rec, s.maxRecord)
		if err != nil {
			return err
		}
		s.refresh[string(rec.Hash)] = expiring{data: data, until: rec.ExpiresAt}
	}
	s.families[fam.ID] = expiring{data: famData, until: fam.ExpiresAt}
	return nil
}

// RotateRefresh implements store.RefreshStore; the mutex makes it atomic.
func (s *Store) RotateRefresh(ctx context.Context, hash []byte, next func(store.RefreshRecord) (store.RefreshRecord, error)) (store.RefreshRecord, store.RefreshFamily, error) {
	var old store.RefreshRecord
	var fam store.RefreshFamily
	if err := store.CheckKey("refresh token hash", hash); err != nil {
		return old, fam, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return old, fam, err
	}
	defer s.mu.Unlock()
	r, ok := s.refresh[string(hash)]
	if !ok {
		return old, fam, store.ErrNotFound
	}
	if err := json.Unmarshal(r.data, &old); err != nil {
		return old, fam, fmt.Errorf("memory: corrupt refresh token record: %w", err)
	}
	f, err := s.family(old.FamilyID)
	if err != nil {
		return old, fam, err
	}
	if f != nil {
		fam = *f
	}
	now := s.now()
	rot, outcome := store.RotatePlan(old, f, now, next)
	if outcome != nil && outcome != store.ErrRefreshReused {
		return old, fam, outcome
	}
	if err := s.writeRotation(rot); err != nil {
		return old, fam, err
	}
	return old, fam, outcome
}

// GetRefresh implements store.RefreshStore.
func (s *Store) GetRefresh(ctx context.Context, hash []byte) (store.RefreshRecord, error) {
	var rec store.RefreshRecord
	if err := store.CheckKey("refresh token hash", hash); err != nil {
		return rec, err
	}
	if err := s.lock(ctx); err != nil {
		return rec, err
	}
	defer s.mu.Unlock()
	r, ok := s.refresh[string(hash)]
	if !ok || store.Expired(r.until, s.now()) {
		return rec, store.ErrNotFound
	}
	if err := json.Unmarshal(r.data, &rec); err != nil {
		return rec, fmt.Errorf("memory: corrupt refresh token record: %w", err)
	}
	return rec, nil
}

// RevokeFamily implements store.RefreshStore.
func (s *Store) RevokeFamily(ctx context.Context, id string, until time.Time) (store.RefreshFamily, error) {
	if err := store.CheckExpiring("family revocation", "family id", id, until); err != nil {
		return store.RefreshFamily{}, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return store.RefreshFamily{}, err
	}
	defer s.mu.Unlock()
	f, err := s.family(id)
	if err != nil {
		return store.RefreshFamily{}, err
	}
	if f == nil {
		f = &store.RefreshFamily{ID: id, ExpiresAt: until}
	}
	rot := store.RevokePlan(*f, s.now())
	if rot.Family.ExpiresAt.Before(until) {
		rot.Family.ExpiresAt = until
	}
	return *f, s.writeRotation(rot)
}

// family reads a family record; nil when missing or expired. The mutex is
// held.
func (s *Store) family(id string) (*store.RefreshFamily, error) {
	if err := store.CheckKey("family id", []byte(id)); err != nil {
		return nil, err
	}
	r, ok := s.families[id]
	if !ok || store.Expired(r.until, s.now()) {
		return nil, nil
	}
	var f store.RefreshFamily
	if err := json.Unmarshal(r.data, &f); err != nil {
		return nil, fmt.Errorf("memory: corrupt refresh family record: %w", err)
	}
	return &f, nil
}

// writeRotation writes what the plan decided, all or nothing (everything is
// encoded before anything is written). The mutex is held.
func (s *Store) writeRotation(rot store.Rotation) error {
	famData, err := store.Encode("refresh family", rot.Family, s.maxRecord)
	if err != nil {
		return err
	}
	var oldData, nextData []byte
	if rot.Next.Hash != nil {
		if oldData, err = store.Encode("refresh token", rot.Old, s.maxRecord); err != nil {
			return err
		}
		if nextData, err = store.Encode("refresh token", rot.Next, s.maxRecord); err != nil {
			return err
		}
	}
	for _, a := range rot.Revoke {
		s.revokeLocked(a.JTI, a.RevokeUntil)
	}
	s.families[rot.Family.ID] = expiring{data: famData, until: rot.Family.ExpiresAt}
	if rot.Next.Hash != nil {
		s.refresh[string(rot.Old.Hash)] = expiring{data: oldData, until: rot.Old.ExpiresAt}
		s.refresh[string(rot.Next.Hash)] = expiring{data: nextData, until: rot.Next.ExpiresAt}
	}
	return nil
}
