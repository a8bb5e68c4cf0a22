package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/authgate/caddy-authgate/store"
)

// notBeforeKey is one hash per issuer, "<kind>\0<id>" -> JSON: the issuer
// reads all of its records at every poll.
func (e *Engine) notBeforeKey(issuer string) string { return e.key("{nb:", issuer, "}") }

func notBeforeField(kind, id string) string { return kind + "\x00" + id }

// SetNotBefore implements store.NotBeforeStore: read, merge (the later At
// and Until), compare-and-set (hashCAS), retried when another writer won;
// then published, so every instance reloads its not-before set at once.
func (e *Engine) SetNotBefore(ctx context.Context, nb store.NotBefore) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckNotBefore(nb); err != nil {
		return err
	}
	k, field := e.notBeforeKey(nb.Issuer), notBeforeField(nb.Kind, nb.ID)
	for range maxCASAttempts {
		raw, err := e.hgetRaw(ctx, k, field)
		if err != nil {
			return err
		}
		merged := nb
		if raw != "" {
			var old store.NotBefore
			if err := json.Unmarshal([]byte(raw), &old); err != nil {
				return fmt.Errorf("store/redis: corrupt not-before %q: %w", field, err)
			}
			if !store.Expired(old.Until, e.now()) {
				merged = store.MergeNotBefore(old, nb)
			}
		}
		data, err := store.Encode("not-before", merged, e.maxRecord)
		if err != nil {
			return err
		}
		n, err := hashCASScript.Run(ctx, e.c, []string{k}, field, raw, string(data)).Int64()
		if err != nil {
			return e.wrap(ctx, err)
		}
		if n >= 0 {
			e.notify(ctx, store.ChangeNotBefore, nb.Issuer)
			return nil
		}
	}
	return errContention
}

// NotBefores implements store.NotBeforeStore. Expired records are deleted
// on the way, each only if it is still the expired value read (hashCAS), so
// a concurrent SetNotBefore is never lost.
func (e *Engine) NotBefores(ctx context.Context, issuer string) ([]store.NotBefore, error) {
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckKey("issuer", []byte(issuer)); err != nil {
		return nil, err
	}
	k := e.notBeforeKey(issuer)
	all, err := e.c.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, e.wrap(ctx, err)
	}
	now := e.now()
	var out []store.NotBefore
	for field, v := range all {
		var nb store.NotBefore
		if err := json.Unmarshal([]byte(v), &nb); err != nil {
			return nil, fmt.Errorf("store/redis: corrupt not-before %q: %w", field, err)
		}
		if store.Expired(nb.Until, now) {
			_ = hashCASScript.Run(ctx, e.c, []string{k}, field, v, "").Err()
			continue
		}
		out = append(out, nb)
	}
	slices.SortFunc(out, func(a, b store.NotBefore) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
