package redis

import (
	"context"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Change kinds published on the changes channel.
const (
	ChangeRevocations = "revocations"
	ChangeClients     = "clients"
	ChangeSigningKeys = "keys"
	// ChangeAll is delivered after every (re)connection of a
	// subscription: messages may have been lost, so resync everything.
	ChangeAll = "all"
)

// Change is one notification: what changed (a Change* kind) and, for
// keys and clients, which issuer or client.
type Change struct {
	Kind string
	Key  string
}

func (e *Engine) changesChannel() string { return e.key("changes") }

// notify publishes a change after a successful write. It is best effort: a
// lost message is healed by the subscribers' resync, so its failure does
// not fail the write (which is durable already).
func (e *Engine) notify(ctx context.Context, kind, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := e.c.Publish(ctx, e.changesChannel(), kind+" "+key).Err(); err != nil {
		e.log.LogAttrs(ctx, slog.LevelDebug, "publishing a change failed", slog.String("kind", kind), slog.String("error", err.Error()))
	}
}

// Subscribe calls fn, from one goroutine, for every change any instance
// publishes (this one included), and with ChangeAll once the subscription
// is established and after every reconnection. It returns at once; the
// subscription ends when ctx is done or the engine is closed.
func (e *Engine) Subscribe(ctx context.Context, fn func(Change)) {
	if e.closed.Load() {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.subscribe(ctx, fn)
	}()
}

func (e *Engine) subscribe(ctx context.Context, fn func(Change)) {
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
			pause = 100 * time.Millisecond
			fn(c)
		}
	}
}

// decodeMessage turns a pub/sub reply into a Change: a (re)subscription
// confirmation is ChangeAll, a message is what it says.
func decodeMessage(msg any) (Change, bool) {
	switch m := msg.(type) {
	case *goredis.Subscription:
		if m.Kind == "subscribe" {
			return Change{Kind: ChangeAll}, true
		}
	case *goredis.Message:
		return parseChange(m.Payload), true
	}
	return Change{}, false
}

func parseChange(payload string) Change {
	kind, key, _ := strings.Cut(payload, " ")
	return Change{Kind: kind, Key: key}
}
