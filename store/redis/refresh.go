package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Refresh tokens and families live in the revocations' slot ({rev}): a
// rotation, a reuse and a family revocation write the token, the family and
// the revocations of the family's access tokens in one script (applyScript),
// which Redis Cluster allows only within one slot. The price: on a Cluster,
// refresh traffic goes to the one master that holds {rev}. Each write is a
// compare-and-set over the records the state machine (store.RotatePlan and
// friends) read, retried when another instance changed them first.
func (e *Engine) refreshKey(hash []byte) string {
	return e.key("{rev}:rt:", hex.EncodeToString(hash))
}

func (e *Engine) familyKey(id string) string { return e.key("{rev}:fam:", id) }

// casCheck is a record a write depends on: its value as read ("" when it
// was missing).
type casCheck struct{ key, value string }

// casWrite is a record to write, forgotten by Redis at until.
type casWrite struct {
	key   string
	value []byte
	until time.Time
}

// apply runs applyScript: false when a checked record changed meanwhile
// (nothing written). Revocations that were news are published.
func (e *Engine) apply(ctx context.Context, checks []casCheck, writes []casWrite, revoke []store.FamilyAccess) (bool, error) {
	keys := append(e.revocationKeys(), make([]string, 0, len(checks)+len(writes))...)
	args := []any{e.now().UnixMilli(), randomID(), len(checks), len(writes)}
	for _, c := range checks {
		keys = append(keys, c.key)
		args = append(args, c.value)
	}
	for _, w := range writes {
		keys = append(keys, w.key)
		args = append(args, w.value, strconv.FormatInt(pxat(w.until).UnixMilli(), 10))
	}
	for _, a := range revoke {
		args = append(args, a.JTI, strconv.FormatInt(ms(a.RevokeUntil), 10))
	}
	news, err := applyScript.Run(ctx, e.c, keys, args...).Int64()
	if err != nil {
		return false, e.wrap(ctx, err)
	}
	if news < 0 {
		return false, nil
	}
	if news > 0 {
		e.notify(ctx, store.ChangeRevocations, "")
	}
	return true, nil
}

// rotationWrites is what writeRotation of the bbolt engine writes.
func (e *Engine) rotationWrites(rot store.Rotation) ([]casWrite, error) {
	fam, err := store.Encode("refresh family", rot.Family, e.maxRecord)
	if err != nil {
		return nil, err
	}
	w := []casWrite{{e.familyKey(rot.Family.ID), fam, rot.Family.ExpiresAt}}
	if rot.Next.Hash != nil {
		for _, rec := range []store.RefreshRecord{rot.Old, rot.Next} {
			data, err := store.Encode("refresh token", rec, e.maxRecord)
			if err != nil {
				return nil, err
			}
			w = append(w, casWrite{e.refreshKey(rec.Hash), data, rec.ExpiresAt})
		}
	}
	return w, nil
}

// readFamily reads a family record as stored ("" when missing) and decoded
// (nil when missing or expired).
func (e *Engine) readFamily(ctx context.Context, id string) (string, *store.RefreshFamily, error) {
	if err := store.CheckKey("family id", []byte(id)); err != nil {
		return "", nil, err
	}
	raw, err := e.getRaw(ctx, e.familyKey(id))
	if err != nil {
		return "", nil, err
	}
	f, err := e.decodeFamily(raw)
	return raw, f, err
}

// decodeFamily decodes a family record; nil when missing ("") or expired.
func (e *Engine) decodeFamily(raw string) (*store.RefreshFamily, error) {
	if raw == "" {
		return nil, nil
	}
	var f store.RefreshFamily
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil, fmt.Errorf("store/redis: corrupt refresh family record: %w", err)
	}
	if store.Expired(f.ExpiresAt, e.now()) {
		return nil, nil
	}
	return &f, nil
}

// readToken reads a refresh token record as stored ("" when missing) and,
// when the family index knows its family, that family's record in the same
// MGET (one slot: {rev}); hinted names the family read ("" for none).
func (e *Engine) readToken(ctx context.Context, hash []byte) (rawTok, rawFam, hinted string, err error) {
	fam, ok := e.families.get(hash)
	if !ok || store.CheckKey("family id", []byte(fam)) != nil {
		rawTok, err = e.getRaw(ctx, e.refreshKey(hash))
		return rawTok, "", "", err
	}
	vals, err := e.c.MGet(ctx, e.refreshKey(hash), e.familyKey(fam)).Result()
	if err != nil {
		return "", "", "", e.wrap(ctx, err)
	}
	rawTok, _ = vals[0].(string)
	rawFam, _ = vals[1].(string)
	return rawTok, rawFam, fam, nil
}

// StartFamily implements store.RefreshStore.
func (e *Engine) StartFamily(ctx context.Context, fam store.RefreshFamily, first *store.RefreshRecord) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckFamily(fam); err != nil {
		return err
	}
	for range maxCASAttempts {
		raw, stored, err := e.readFamily(ctx, fam.ID)
		if err != nil {
			return err
		}
		check := []casCheck{{e.familyKey(fam.ID), raw}}
		err = store.StartFamilyPlan(fam, first, stored)
		if errors.Is(err, store.ErrFamilyRevoked) {
			rot := store.LateStartPlan(fam, *stored, e.now())
			w, err := e.rotationWrites(rot)
			if err != nil {
				return err
			}
			ok, err := e.apply(ctx, check, w, rot.Revoke)
			if err != nil {
				return err
			}
			if ok {
				return store.ErrFamilyRevoked
			}
			continue
		}
		if err != nil {
			return err
		}
		f := fam
		f.Revoked = false
		data, err := store.Encode("refresh family", f, e.maxRecord)
		if err != nil {
			return err
		}
		w := []casWrite{{e.familyKey(f.ID), data, f.ExpiresAt}}
		if first != nil {
			rec := *first
			rec.Spent = false
			data, err := store.Encode("refresh token", rec, e.maxRecord)
			if err != nil {
				return err
			}
			w = append(w, casWrite{e.refreshKey(rec.Hash), data, rec.ExpiresAt})
		}
		ok, err := e.apply(ctx, check, w, nil)
		if err != nil || ok {
			if ok && first != nil {
				e.families.put(first.Hash, f.ID)
			}
			return err
		}
	}
	return errContention
}

// RotateRefresh implements store.RefreshStore: the token and its family
// are read, store.RotatePlan decides, and applyScript writes only if
// neither changed since, so of concurrent callers one wins and the others
// start over (and find the token spent: reuse). next may run more than once
// when a concurrent write of the same family intervened.
func (e *Engine) RotateRefresh(ctx context.Context, hash []byte, next func(old store.RefreshRecord) (store.RefreshRecord, error)) (store.RefreshRecord, store.RefreshFamily, error) {
	if err := e.usable(ctx); err != nil {
		return store.RefreshRecord{}, store.RefreshFamily{}, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("refresh token hash", hash); err != nil {
		return store.RefreshRecord{}, store.RefreshFamily{}, err
	}
	for range maxCASAttempts {
		rawOld, rawFam, hinted, err := e.readToken(ctx, hash)
		if err != nil {
			return store.RefreshRecord{}, store.RefreshFamily{}, err
		}
		if rawOld == "" {
			return store.RefreshRecord{}, store.RefreshFamily{}, store.ErrNotFound
		}
		var old store.RefreshRecord
		if err := json.Unmarshal([]byte(rawOld), &old); err != nil {
			return store.RefreshRecord{}, store.RefreshFamily{}, fmt.Errorf("store/redis: corrupt refresh token record: %w", err)
		}
		var fam *store.RefreshFamily
		if hinted == old.FamilyID {
			fam, err = e.decodeFamily(rawFam)
		} else {
			rawFam, fam, err = e.readFamily(ctx, old.FamilyID)
		}
		if err != nil {
			return old, store.RefreshFamily{}, err
		}
		var before store.RefreshFamily
		if fam != nil {
			before = *fam
		}
		rot, outcome := store.RotatePlan(old, fam, e.now(), next)
		if outcome != nil && !errors.Is(outcome, store.ErrRefreshReused) {
			return old, before, outcome
		}
		w, err := e.rotationWrites(rot)
		if err != nil {
			return old, before, err
		}
		checks := []casCheck{{e.refreshKey(hash), rawOld}, {e.familyKey(old.FamilyID), rawFam}}
		ok, err := e.apply(ctx, checks, w, rot.Revoke)
		if err != nil {
			return old, before, err
		}
		if ok {
			if rot.Next.Hash != nil {
				e.families.put(rot.Next.Hash, rot.Next.FamilyID)
			}
			return old, before, outcome
		}
	}
	return store.RefreshRecord{}, store.RefreshFamily{}, errContention
}

// GetRefresh implements store.RefreshStore.
func (e *Engine) GetRefresh(ctx context.Context, hash []byte) (store.RefreshRecord, error) {
	if err := e.usable(ctx); err != nil {
		return store.RefreshRecord{}, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("refresh token hash", hash); err != nil {
		return store.RefreshRecord{}, err
	}
	var rec store.RefreshRecord
	if err := e.getJSON(ctx, e.refreshKey(hash), "refresh token record", &rec); err != nil {
		return store.RefreshRecord{}, err
	}
	e.families.put(hash, rec.FamilyID)
	if store.Expired(rec.ExpiresAt, e.now()) {
		return store.RefreshRecord{}, store.ErrNotFound
	}
	return rec, nil
}

// RevokeFamily implements store.RefreshStore.
func (e *Engine) RevokeFamily(ctx context.Context, id string, until time.Time) (store.RefreshFamily, error) {
	if err := e.usable(ctx); err != nil {
		return store.RefreshFamily{}, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckExpiring("family revocation", "family id", id, until); err != nil {
		return store.RefreshFamily{}, err
	}
	for range maxCASAttempts {
		raw, f, err := e.readFamily(ctx, id)
		if err != nil {
			return store.RefreshFamily{}, err
		}
		if f == nil {
			f = &store.RefreshFamily{ID: id, ExpiresAt: until}
		}
		before := *f
		rot := store.RevokePlan(*f, e.now())
		if rot.Family.ExpiresAt.Before(until) {
			rot.Family.ExpiresAt = until
		}
		w, err := e.rotationWrites(rot)
		if err != nil {
			return store.RefreshFamily{}, err
		}
		ok, err := e.apply(ctx, []casCheck{{e.familyKey(id), raw}}, w, rot.Revoke)
		if err != nil {
			return store.RefreshFamily{}, err
		}
		if ok {
			return before, nil
		}
	}
	return store.RefreshFamily{}, errContention
}
