package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/authgate/caddy-authgate/store"
)

// usersKey is one hash, user name -> JSON: users are few and listed whole
// by the admin API. The issuer reads a user from the store at every
// sign-in (nothing is cached), so a change is seen by every instance at
// once; disabling a user also records a not-before (published).
func (e *Engine) usersKey() string { return e.key("users") }

// PutUser implements store.UserStore.
func (e *Engine) PutUser(ctx context.Context, u store.UserRecord) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("user name", []byte(u.Name)); err != nil {
		return err
	}
	data, err := store.Encode("user", u, e.maxRecord)
	if err != nil {
		return err
	}
	return e.wrap(ctx, e.c.HSet(ctx, e.usersKey(), u.Name, data).Err())
}

// GetUser implements store.UserStore.
func (e *Engine) GetUser(ctx context.Context, name string) (store.UserRecord, error) {
	if err := e.usable(ctx); err != nil {
		return store.UserRecord{}, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("user name", []byte(name)); err != nil {
		return store.UserRecord{}, err
	}
	raw, err := e.hgetRaw(ctx, e.usersKey(), name)
	if err != nil {
		return store.UserRecord{}, err
	}
	if raw == "" {
		return store.UserRecord{}, store.ErrNotFound
	}
	var u store.UserRecord
	if err := json.Unmarshal([]byte(raw), &u); err != nil {
		return store.UserRecord{}, fmt.Errorf("store/redis: corrupt user %q: %w", name, err)
	}
	return u, nil
}

// DeleteUser implements store.UserStore.
func (e *Engine) DeleteUser(ctx context.Context, name string) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("user name", []byte(name)); err != nil {
		return err
	}
	return e.wrap(ctx, e.c.HDel(ctx, e.usersKey(), name).Err())
}

// Users implements store.UserStore.
func (e *Engine) Users(ctx context.Context) ([]store.UserRecord, error) {
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	all, err := e.c.HGetAll(ctx, e.usersKey()).Result()
	if err != nil {
		return nil, e.wrap(ctx, err)
	}
	var out []store.UserRecord
	for name, v := range all {
		var u store.UserRecord
		if err := json.Unmarshal([]byte(v), &u); err != nil {
			return nil, fmt.Errorf("store/redis: corrupt user %q: %w", name, err)
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
