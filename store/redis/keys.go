package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/store"
)

func (e *Engine) signingKeysKey(issuer string) string { return e.key("{sk:", issuer, "}") }

func (e *Engine) readSigningKeys(ctx context.Context, k string) ([]store.SigningKey, error) {
	v, err := e.c.Get(ctx, k).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, e.wrap(ctx, err)
	}
	var keys []store.SigningKey
	if err := json.Unmarshal(v, &keys); err != nil {
		return nil, fmt.Errorf("store/redis: corrupt signing keys: %w", err)
	}
	store.SortSigningKeys(keys)
	return keys, nil
}

// SigningKeys implements store.SigningKeyStore.
func (e *Engine) SigningKeys(ctx context.Context, issuer string) ([]store.SigningKey, error) {
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	return e.readSigningKeys(ctx, e.signingKeysKey(issuer))
}

// UpdateSigningKeys implements store.SigningKeyStore under the issuer's
// lease lock (see the package doc): fn runs once, with the keys as stored,
// and its result is written only while the lock is held. Keys past their
// ExpiresAt are dropped from what fn sees and from what is stored.
func (e *Engine) UpdateSigningKeys(ctx context.Context, issuer string, fn func(current []store.SigningKey) ([]store.SigningKey, error)) ([]store.SigningKey, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	if err := store.CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	k := e.signingKeysKey(issuer)
	lock := k + ":lock"
	token := randomID()
	if err := e.acquire(ctx, lock, token); err != nil {
		return nil, err
	}
	// The rest is one call, bounded from when the lock is held.
	ctx, cancel := e.bound(ctx)
	defer cancel()
	// Released by setKeysScript on success; here on every other path.
	written := false
	defer func() {
		if !written {
			uctx, cancel := e.cleanup(ctx)
			defer cancel()
			_ = unlockScript.Run(uctx, e.c, []string{lock}, token).Err()
		}
	}()
	current, err := e.readSigningKeys(ctx, k)
	if err != nil {
		return nil, err
	}
	now := e.now()
	live := current[:0]
	for _, sk := range current {
		if sk.ExpiresAt.IsZero() || !store.Expired(sk.ExpiresAt, now) {
			live = append(live, sk)
		}
	}
	next, err := fn(live)
	if err != nil {
		return nil, err
	}
	next, encoded, err := store.PrepareSigningKeys(issuer, next, e.maxRecord)
	if err != nil {
		return nil, err
	}
	value := ""
	if len(next) > 0 {
		raw := make([]json.RawMessage, len(encoded))
		for i := range encoded {
			raw[i] = encoded[i]
		}
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		value = string(b)
	}
	ok, err := setKeysScript.Run(ctx, e.c, []string{k, lock}, token, value).Int()
	if err != nil {
		return nil, e.wrap(ctx, err)
	}
	if ok != 1 {
		return nil, fmt.Errorf("%w: signing key lock of %q lost (held longer than %s)", ErrUnavailable, issuer, lockLease)
	}
	written = true
	e.notify(ctx, store.ChangeSigningKeys, issuer)
	return next, nil
}

// acquire takes the lease lock, waiting (with a growing pause of at most
// 50ms) while another caller holds it.
//
// Key updates run off the request path and may have to outwait the lease
// of an instance that died holding the lock, so the wait is bounded by the
// lease plus OpTimeout; each SETNX is one call, bounded by OpTimeout.
func (e *Engine) acquire(ctx context.Context, lock, token string) error {
	ctx, cancel := context.WithTimeoutCause(ctx, lockLease+e.opTimeout, errOutOfTime)
	defer cancel()
	pause := time.Millisecond
	for {
		ok, err := e.trySetNX(ctx, lock, token)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(context.Cause(ctx), errOutOfTime) {
				return fmt.Errorf("%w: signing key lock still held by another instance after %s", ErrUnavailable, lockLease+e.opTimeout)
			}
			return ctx.Err()
		case <-t.C:
		}
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
}

// trySetNX is one attempt at the lease lock: one call, bounded by OpTimeout.
func (e *Engine) trySetNX(ctx context.Context, lock, token string) (bool, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	ok, err := e.c.SetNX(ctx, lock, token, lockLease).Result()
	return ok, e.wrap(ctx, err)
}
