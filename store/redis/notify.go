package redis

import (
	"context"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/store"
)

func (e *Engine) changesChannel() string { return e.key("changes") }

// notify publishes a change after a successful write. It is best effort: a
// lost message is healed by the subscribers' resync, so its failure does
// not fail the write (which is durable already). It runs even if the
// caller has gone, but within the call's bound (detached).
func (e *Engine) notify(ctx context.Context, kind store.ChangeKind, key string) {
	ctx, cancel := detached(ctx)
	defer cancel()
	if err := e.c.Publish(ctx, e.changesChannel(), string(kind)+" "+key).Err(); err != nil {
		e.log.LogAttrs(ctx, slog.LevelDebug, "publishing a change failed", slog.String("kind", string(kind)), slog.String("error", err.Error()))
	}
}

// SubscribeChanges implements store.ChangeNotifier: one pub/sub
// subscription per call; its (re)subscription confirmations are
// store.ChangeAll.
func (e *Engine) SubscribeChanges(ctx context.Context, fn func(store.Change)) {
	if e.closed.Load() {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.subscribe(ctx, fn)
	}()
}

func (e *Engine) subscribe(ctx context.Context, fn func(store.Change)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(e.ctx, cancel)
	defer stopOnClose()
	ps := e.c.Subscribe(ctx, e.changesChannel())
	closeOnDone := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer closeOnDone()
	defer ps.Close()
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// go-redis reconnects and resubscribes on the next Receive;
			// the confirmation then is a ChangeAll.
			e.observe(err)
			e.log.LogAttrs(ctx, slog.LevelDebug, "change subscription interrupted", slog.String("error", err.Error()))
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if pause < 2*time.Second {
				pause *= 2
			}
			continue
		}
		if c, ok := decodeMessage(msg); ok {
			e.observe(nil)
			pause = 100 * time.Millisecond
			fn(c)
		}
	}
}

// decodeMessage turns a pub/sub reply into a Change: a (re)subscription
// confirmation is ChangeAll, a message is what it says.
func decodeMessage(msg any) (store.Change, bool) {
	switch m := msg.(type) {
	case *goredis.Subscription:
		if m.Kind == "subscribe" {
			return store.Change{Kind: store.ChangeAll}, true
		}
	case *goredis.Message:
		return parseChange(m.Payload), true
	}
	return store.Change{}, false
}

func parseChange(payload string) store.Change {
	kind, key, _ := strings.Cut(payload, " ")
	return store.Change{Kind: store.ChangeKind(kind), Key: key}
}
