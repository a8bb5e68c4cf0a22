package redis

import (
	"context"
	"errors"
	"time"
)

// The retries that go-redis keeps within a call's bound, and why: the
// package doc, "Retries".
const (
	commandRetries  = 2
	minRetryBackoff = 10 * time.Millisecond
	maxRetryBackoff = 100 * time.Millisecond
	dialAttempts    = 2
	dialRetryPause  = 50 * time.Millisecond
)

// errOutOfTime is the cause of a call's own deadline: wrap turns it into
// ErrUnavailable (Redis did not answer in time), unlike the caller's own
// deadline, which stays context.DeadlineExceeded.
var errOutOfTime = errors.New("store/redis: call out of time")

// bound returns the context of one call: ctx with the call's deadline.
func (e *Engine) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, e.opTimeout, errOutOfTime)
}

// detached is ctx without its cancellation but with its deadline: work
// that must follow a write even when the caller has gone, within the
// call's bound.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(context.WithoutCancel(ctx))
	}
	return context.WithDeadlineCause(context.WithoutCancel(ctx), d, errOutOfTime)
}

// cleanup is the context of work that frees what a failed call holds (the
// signing-key lease lock): a bound of its own, OpTimeout, detached from ctx,
// so that a call that ran out of time, or whose caller gave up, still frees
// it instead of leaving it to its lease.
func (e *Engine) cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(context.WithoutCancel(ctx), e.opTimeout, errOutOfTime)
}
