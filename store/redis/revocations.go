package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

func (e *Engine) revocationKeys() []string {
	return []string{e.key("{rev}:feed"), e.key("{rev}:until"), e.key("{rev}:seq"), e.key("{rev}:epoch")}
}

// Revoke implements store.RevocationStore with one script (see the package
// doc); a revocation that is news is published to other instances.
func (e *Engine) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if err := store.CheckExpiring("revocation", "jti", jti, until); err != nil {
		return err
	}
	if len(jti)+64 > e.maxRecord {
		return fmt.Errorf("store: revocation record of %d bytes exceeds the limit of %d", len(jti)+64, e.maxRecord)
	}
	seq, err := revokeScript.Run(ctx, e.c, e.revocationKeys(), jti, ms(until), e.now().UnixMilli(), randomID()).Int64()
	if err != nil {
		return e.wrap(ctx, err)
	}
	if seq > 0 {
		e.notify(ctx, store.ChangeRevocations, "")
	}
	return nil
}

// RevocationsSince implements store.RevocationStore. The cursor is
// "<epoch>:<sequence>".
func (e *Engine) RevocationsSince(ctx context.Context, cursor store.RevocationCursor) ([]store.Revocation, store.RevocationCursor, error) {
	if err := e.usable(ctx); err != nil {
		return nil, cursor, err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	var epoch string
	var after uint64
	if cursor != "" {
		ep, seq, ok := strings.Cut(string(cursor), ":")
		n, err := strconv.ParseUint(seq, 10, 63)
		if !ok || err != nil {
			return nil, cursor, fmt.Errorf("store: invalid revocation cursor %q", cursor)
		}
		epoch, after = ep, n
	}
	res, err := revocationsSinceScript.Run(ctx, e.c, e.revocationKeys(), after, epoch).StringSlice()
	if err != nil {
		return nil, cursor, e.wrap(ctx, err)
	}
	if len(res) < 2 || len(res)%2 != 0 {
		return nil, cursor, fmt.Errorf("store/redis: malformed revocation feed reply")
	}
	now := e.now()
	var out []store.Revocation
	for i := 2; i < len(res); i += 2 {
		u, err := strconv.ParseInt(res[i+1], 10, 64)
		if err != nil {
			return nil, cursor, fmt.Errorf("store/redis: corrupt revocation %q", res[i])
		}
		until := time.UnixMilli(u)
		if !store.Expired(until, now) {
			out = append(out, store.Revocation{JTI: res[i], Until: until})
		}
	}
	return out, store.RevocationCursor(res[0] + ":" + res[1]), nil
}
