package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/store"
)

// --- tokens ------------------------------------------------------------------

func (e *Engine) tokenKey(hash []byte) string { return e.key("tok:", hex.EncodeToString(hash)) }

// PutToken implements store.TokenStore.
func (e *Engine) PutToken(ctx context.Context, rec store.TokenRecord) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckToken(rec); err != nil {
		return err
	}
	data, err := store.Encode("token", rec, e.maxRecord)
	if err != nil {
		return err
	}
	return e.setAt(ctx, e.tokenKey(rec.Hash), data, rec.ExpiresAt)
}

// GetToken implements store.TokenStore.
func (e *Engine) GetToken(ctx context.Context, hash []byte) (store.TokenRecord, error) {
	var rec store.TokenRecord
	if err := e.usable(ctx); err != nil {
		return rec, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("token hash", hash); err != nil {
		return rec, err
	}
	if err := e.getJSON(ctx, e.tokenKey(hash), "token record", &rec); err != nil {
		return store.TokenRecord{}, err
	}
	if store.Expired(rec.ExpiresAt, e.now()) {
		return store.TokenRecord{}, store.ErrNotFound
	}
	return rec, nil
}

// DeleteToken implements store.TokenStore.
func (e *Engine) DeleteToken(ctx context.Context, hash []byte) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("token hash", hash); err != nil {
		return err
	}
	return e.wrap(ctx, e.c.Del(ctx, e.tokenKey(hash)).Err())
}

// setAt stores a value that Redis forgets at until.
func (e *Engine) setAt(ctx context.Context, k string, data []byte, until time.Time) error {
	return e.wrap(ctx, e.c.SetArgs(ctx, k, data, goredis.SetArgs{ExpireAt: pxat(until)}).Err())
}

// getJSON reads and decodes a string value; store.ErrNotFound when missing.
func (e *Engine) getJSON(ctx context.Context, k, what string, v any) error {
	b, err := e.c.Get(ctx, k).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.ErrNotFound
	}
	if err != nil {
		return e.wrap(ctx, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store/redis: corrupt %s: %w", what, err)
	}
	return nil
}

// --- single-use markers --------------------------------------------------------

// MarkUsed implements store.ReplayStore with one script: an unexpired
// marker means a replay; otherwise the marker is (re)written, PXAT until.
func (e *Engine) MarkUsed(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := e.usable(ctx); err != nil {
		return false, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckExpiring("marker", "marker key", key, until); err != nil {
		return false, err
	}
	n, err := markUsedScript.Run(ctx, e.c, []string{e.key("m:", key)}, e.now().UnixMilli(), ms(until)).Int()
	if err != nil {
		return false, e.wrap(ctx, err)
	}
	return n == 1, nil
}

// --- clients -------------------------------------------------------------------

func (e *Engine) clientsKey() string { return e.key("{clients}") }

// clientsVersionKey is ClientsVersion's counter, in the clients' slot.
func (e *Engine) clientsVersionKey() string { return e.key("{clients}:version") }

// PutClient implements store.ClientStore.
func (e *Engine) PutClient(ctx context.Context, c store.Client) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("client id", []byte(c.ID)); err != nil {
		return err
	}
	data, err := store.Encode("client", c, e.maxRecord)
	if err != nil {
		return err
	}
	if err := e.wrap(ctx, putInCountedScript.Run(ctx, e.c, []string{e.clientsKey(), e.clientsVersionKey()}, c.ID, data).Err()); err != nil {
		return err
	}
	e.notify(ctx, store.ChangeClients, c.ID)
	return nil
}

// GetClient implements store.ClientStore.
func (e *Engine) GetClient(ctx context.Context, id string) (store.Client, error) {
	var c store.Client
	if err := e.usable(ctx); err != nil {
		return c, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("client id", []byte(id)); err != nil {
		return c, err
	}
	b, err := e.c.HGet(ctx, e.clientsKey(), id).Bytes()
	if errors.Is(err, goredis.Nil) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, e.wrap(ctx, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return store.Client{}, fmt.Errorf("store/redis: corrupt client %q: %w", id, err)
	}
	return c, nil
}

// DeleteClient implements store.ClientStore.
func (e *Engine) DeleteClient(ctx context.Context, id string) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("client id", []byte(id)); err != nil {
		return err
	}
	if err := e.wrap(ctx, putInCountedScript.Run(ctx, e.c, []string{e.clientsKey(), e.clientsVersionKey()}, id, "").Err()); err != nil {
		return err
	}
	e.notify(ctx, store.ChangeClients, id)
	return nil
}

// Clients implements store.ClientStore.
func (e *Engine) Clients(ctx context.Context) ([]store.Client, error) {
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	all, err := e.c.HGetAll(ctx, e.clientsKey()).Result()
	if err != nil {
		return nil, e.wrap(ctx, err)
	}
	out := make([]store.Client, 0, len(all))
	for id, v := range all {
		var c store.Client
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return nil, fmt.Errorf("store/redis: corrupt client %q: %w", id, err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// --- sessions --------------------------------------------------------------------

// PutSession implements store.SessionStore.
func (e *Engine) PutSession(ctx context.Context, s store.Session) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	k, err := store.CheckSession(s)
	if err != nil {
		return err
	}
	data, err := store.Encode("session", s, e.maxRecord)
	if err != nil {
		return err
	}
	return e.setAt(ctx, e.key("sess:", string(k)), data, s.ExpiresAt)
}

// GetSession implements store.SessionStore.
func (e *Engine) GetSession(ctx context.Context, kind, id string) (store.Session, error) {
	var s store.Session
	if err := e.usable(ctx); err != nil {
		return s, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	k, err := store.SessionKey(kind, id)
	if err != nil {
		return s, err
	}
	if err := e.getJSON(ctx, e.key("sess:", string(k)), "session record", &s); err != nil {
		return store.Session{}, err
	}
	if store.Expired(s.ExpiresAt, e.now()) {
		return store.Session{}, store.ErrNotFound
	}
	return s, nil
}

// DeleteSession implements store.SessionStore.
func (e *Engine) DeleteSession(ctx context.Context, kind, id string) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	k, err := store.SessionKey(kind, id)
	if err != nil {
		return err
	}
	return e.wrap(ctx, e.c.Del(ctx, e.key("sess:", string(k))).Err())
}

// --- codes -------------------------------------------------------------------------

func (e *Engine) codeKey(hash []byte) string { return e.key("code:", hex.EncodeToString(hash)) }

// PutCode implements store.CodeStore.
func (e *Engine) PutCode(ctx context.Context, rec store.CodeRecord) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckCode(rec); err != nil {
		return err
	}
	rec.Redeemed = false
	data, err := store.Encode("code", rec, e.maxRecord)
	if err != nil {
		return err
	}
	return e.wrap(ctx, putCodeScript.Run(ctx, e.c, []string{e.codeKey(rec.Hash)}, data, pxat(rec.ExpiresAt).UnixMilli()).Err())
}

// RedeemCode implements store.CodeStore: one script sets the redeemed flag
// (HSETNX: exactly one caller sets it) and returns the record.
func (e *Engine) RedeemCode(ctx context.Context, hash []byte) (store.CodeRecord, bool, error) {
	if err := e.usable(ctx); err != nil {
		return store.CodeRecord{}, false, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("code hash", hash); err != nil {
		return store.CodeRecord{}, false, err
	}
	res, err := redeemCodeScript.Run(ctx, e.c, []string{e.codeKey(hash)}).Slice()
	if errors.Is(err, goredis.Nil) {
		return store.CodeRecord{}, false, store.ErrNotFound
	}
	if err != nil {
		return store.CodeRecord{}, false, e.wrap(ctx, err)
	}
	first, _ := res[0].(int64)
	raw, _ := res[1].(string)
	var rec store.CodeRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return store.CodeRecord{}, false, fmt.Errorf("store/redis: corrupt code record: %w", err)
	}
	if store.Expired(rec.ExpiresAt, e.now()) {
		return store.CodeRecord{}, false, store.ErrNotFound
	}
	rec.Redeemed = true
	return rec, first == 1, nil
}
