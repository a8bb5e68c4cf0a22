package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/store"
)

// maxCASAttempts bounds the retries of an optimistic read-modify-write
// (UpdateClient, SetNotBefore, refresh families) that lost to concurrent
// writers of the same record; each retry means another writer succeeded.
const maxCASAttempts = 64

// errContention is returned when every attempt lost.
var errContention = fmt.Errorf("%w: too many concurrent updates of one record", ErrUnavailable)

// ClientsVersion implements store.ClientStore: a counter that PutClient,
// DeleteClient and UpdateClient increment in the same script as their
// write.
func (e *Engine) ClientsVersion(ctx context.Context) (uint64, error) {
	if err := e.usable(ctx); err != nil {
		return 0, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	v, err := e.c.Get(ctx, e.clientsVersionKey()).Uint64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return v, e.wrap(ctx, err)
}

// UpdateClient implements store.ClientStore optimistically: it reads the
// client, runs fn, and writes with a script that succeeds only while the
// client's stored value is still the one fn saw (hashCAS), or starts over.
// fn may run more than once (the interface allows it); what is stored is
// always the result of an fn that saw the record it replaces.
func (e *Engine) UpdateClient(ctx context.Context, id string, fn func(current *store.Client) (*store.Client, error)) (*store.Client, error) {
	if fn == nil {
		return nil, errors.New("store: nil update function")
	}
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("client id", []byte(id)); err != nil {
		return nil, err
	}
	keys := []string{e.clientsKey(), e.clientsVersionKey()}
	for range maxCASAttempts {
		raw, err := e.hgetRaw(ctx, e.clientsKey(), id)
		if err != nil {
			return nil, err
		}
		var cur *store.Client
		if raw != "" {
			cur = new(store.Client)
			if err := json.Unmarshal([]byte(raw), cur); err != nil {
				return nil, fmt.Errorf("store/redis: corrupt client %q: %w", id, err)
			}
		}
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		var data []byte
		if next != nil {
			if next.ID != id {
				return nil, fmt.Errorf("store: update of client %q returned client %q", id, next.ID)
			}
			if data, err = store.Encode("client", next, e.maxRecord); err != nil {
				return nil, err
			}
		} else if cur == nil {
			return nil, nil // nothing to delete
		}
		n, err := hashCASScript.Run(ctx, e.c, keys, id, raw, string(data)).Int64()
		if err != nil {
			return nil, e.wrap(ctx, err)
		}
		if n < 0 {
			continue
		}
		e.notify(ctx, store.ChangeClients, id)
		if next == nil {
			return nil, nil
		}
		var stored store.Client
		if err := json.Unmarshal(data, &stored); err != nil {
			return nil, err
		}
		return &stored, nil
	}
	return nil, errContention
}

// hgetRaw reads a hash field; "" when it is missing (no record encodes to
// "").
func (e *Engine) hgetRaw(ctx context.Context, key, field string) (string, error) {
	v, err := e.c.HGet(ctx, key, field).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, e.wrap(ctx, err)
}

// getRaw reads a string value; "" when it is missing.
func (e *Engine) getRaw(ctx context.Context, key string) (string, error) {
	v, err := e.c.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, e.wrap(ctx, err)
}
