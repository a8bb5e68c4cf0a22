package store

import (
	"context"
	"errors"
	"time"
)

// ChangeNotifier is implemented by engines that several processes share
// (Redis): they tell subscribers when another instance changed what the
// issuer caches in memory, so it reloads now instead of at its next poll.
// Notifications are hints, never the data: a subscriber reloads from the
// store, and keeps polling as the fallback for a lost message.
type ChangeNotifier interface {
	// SubscribeChanges calls fn, from one goroutine, for every change
	// published by any instance (this one included), and with ChangeAll
	// whenever the subscription is (re)established (messages may have been
	// lost: reload everything). It returns at once; the subscription ends
	// when ctx is done or the engine is closed.
	SubscribeChanges(ctx context.Context, fn func(Change))
}

// Change is one notification: what changed and, for signing keys and
// clients, which issuer or client id.
type Change struct {
	Kind ChangeKind
	Key  string
}

// ChangeKind says which role changed.
type ChangeKind string

// Change kinds. A new role whose records instances cache adds its own.
const (
	ChangeRevocations ChangeKind = "revocations"
	ChangeClients     ChangeKind = "clients"
	ChangeSigningKeys ChangeKind = "keys"
	// ChangeNotBefore: an issuer's not-before records (Key: the issuer).
	ChangeNotBefore ChangeKind = "notbefore"
	ChangeAll       ChangeKind = "all"
)

// ErrUnavailable wraps every error of a networked engine that comes from
// its server being unreachable or failing (not a missing record, not
// invalid input): callers answer 503 temporarily_unavailable. A write that
// failed with it may or may not have been applied; it was never reported
// as done.
var ErrUnavailable = errors.New("store: unavailable")

// HealthReporter is implemented by engines reached over the network.
type HealthReporter interface {
	// DownSince is when the engine lost its server (the first failed
	// contact since the last good one); zero while it is reachable.
	DownSince() time.Time
	// OutageGrace is how long, after DownSince, what instances hold in
	// memory (signing keys, revocations, clients) may still be trusted;
	// after it they fail closed.
	OutageGrace() time.Duration
}

// Notifier returns e's ChangeNotifier, looking through wrappers (a value
// with `Unwrap() Engine`, like the encrypting engine), if it has one.
func Notifier(e any) (ChangeNotifier, bool) { return find[ChangeNotifier](e) }

// Health returns e's HealthReporter, looking through wrappers, if it has
// one.
func Health(e any) (HealthReporter, bool) { return find[HealthReporter](e) }

func find[T any](e any) (T, bool) {
	for e != nil {
		if n, ok := e.(T); ok {
			return n, true
		}
		u, ok := e.(interface{ Unwrap() Engine })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	var zero T
	return zero, false
}
