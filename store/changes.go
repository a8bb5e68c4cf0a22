package store

import "context"

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
	ChangeAll         ChangeKind = "all"
)

// Notifier returns e's ChangeNotifier, looking through wrappers (an engine
// with `Unwrap() Engine`, like the encrypting one), if it has one.
func Notifier(e Engine) (ChangeNotifier, bool) {
	for e != nil {
		if n, ok := e.(ChangeNotifier); ok {
			return n, true
		}
		u, ok := e.(interface{ Unwrap() Engine })
		if !ok {
			return nil, false
		}
		e = u.Unwrap()
	}
	return nil, false
}
