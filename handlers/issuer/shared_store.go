package issuer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// While a shared store (Redis) is unreachable, gateways keep admitting
// tokens for the store's OutageGrace (default 1 minute): they verify with
// the keys they hold and refuse the revocations they know; then they fail
// closed (503) until the store answers again. While every instance shares
// the one store nothing can be revoked during an outage anyway; the grace
// bounds what a partition (other instances still reaching Redis and
// revoking) can let through.

// errSharedStoreDown refuses tokens once the grace has run out; the gateway
// answers it with 503 and Retry-After.
var errSharedStoreDown = &token.Error{Reason: token.ReasonKeysUnavailable, Description: "the shared token store has been unreachable for longer than its outage grace"}

// storeDownFor reports how long the shared store has been unreachable
// (0: reachable, or an engine that is not networked) and its grace.
func (i *Issuer) storeDownFor() (time.Duration, time.Duration) {
	h := i.health
	if h == nil {
		return 0, 0
	}
	d := h.DownSince()
	if d.IsZero() {
		return 0, 0
	}
	return max(time.Since(d), time.Nanosecond), h.OutageGrace()
}

// storeStale reports whether the shared store has been down for longer
// than its grace.
func (i *Issuer) storeStale() bool {
	down, grace := i.storeDownFor()
	return down > grace
}

// storeUnavailable is the token endpoint's answer while the shared store is
// unreachable: nothing is issued that could not be revoked or recorded.
func (i *Issuer) storeUnavailable() *oauthError {
	if down, _ := i.storeDownFor(); down == 0 {
		return nil
	}
	return &oauthError{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavailable,
		Description: "the token store is unavailable", RetryAfter: 5}
}

// storeFailure maps a failed store write on the token path: 503 when the
// store is unreachable (the client may retry), 500 otherwise.
func storeFailure(err error) *oauthError {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return &oauthError{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavailable,
			Description: "the token store is unavailable", RetryAfter: 5}
	}
	return serverError()
}

// followChanges reloads what another instance changed as soon as a shared
// store says so (revocations, clients, this issuer's signing keys and
// not-before records); a
// (re)subscription reloads everything, so messages lost while disconnected
// heal at once. Run's polls stay as the fallback. Reloads of one kind
// coalesce: a burst of revocations is one feed read.
func (i *Issuer) followChanges(ctx context.Context) {
	n, ok := store.Notifier(i.store)
	if !ok {
		return
	}
	reload := func(name string, fn func(context.Context) error) chan struct{} {
		ch := make(chan struct{}, 1)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					if err := fn(ctx); err != nil && ctx.Err() == nil {
						i.logger.LogAttrs(ctx, slog.LevelWarn, "reloading after a change notification failed",
							slog.String("what", name), slog.String("error", err.Error()))
					}
				}
			}
		}()
		return ch
	}
	revs := reload("revocations", i.loadRevocations)
	clients := reload("clients", func(ctx context.Context) error { return i.clients.sync(ctx, i.store) })
	keys := reload("signing keys", i.keys.refresh)
	notBefore := reload("not-before revocations", i.loadNotBefores)
	poke := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	n.SubscribeChanges(ctx, func(c store.Change) {
		switch c.Kind {
		case store.ChangeRevocations:
			poke(revs)
		case store.ChangeClients:
			poke(clients)
		case store.ChangeSigningKeys:
			if c.Key == i.iss {
				poke(keys)
			}
		case store.ChangeNotBefore:
			if c.Key == i.iss {
				poke(notBefore)
			}
		case store.ChangeAll:
			poke(revs)
			poke(clients)
			poke(keys)
			poke(notBefore)
		}
	})
}

// healthReporter is a shared store's health, resolved once at Open (the
// admission check reads it on every gateway request).
type healthReporter = store.HealthReporter

func healthOf(st Store) healthReporter {
	h, _ := store.Health(st)
	return h
}
