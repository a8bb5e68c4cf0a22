package redis

import (
	"context"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DownSince implements store.HealthReporter: the first failed contact with
// Redis since the last good one (a command, or the change subscription
// losing its connection); zero while Redis answers.
func (e *Engine) DownSince() time.Time {
	if n := e.down.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// OutageGrace implements store.HealthReporter.
func (e *Engine) OutageGrace() time.Duration { return e.grace }

// observe records the outcome of one contact: an answer from Redis (a
// reply, nil, or a Redis error such as NOSCRIPT) means up; a network or
// timeout failure means down.
func (e *Engine) observe(err error) {
	if err == nil || errors.Is(err, goredis.Nil) {
		e.down.Store(0)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	var redisErr goredis.Error
	var netErr net.Error
	if errors.As(err, &redisErr) && !errors.As(err, &netErr) && !errors.Is(err, goredis.ErrClosed) {
		e.down.Store(0) // Redis answered, with an error
		return
	}
	e.down.CompareAndSwap(0, time.Now().UnixNano())
}

// healthHook observes every command and pipeline.
type healthHook struct{ e *Engine }

func (h healthHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.e.observe(err)
		}
		return c, err
	}
}

func (h healthHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.e.observe(err)
		return err
	}
}

func (h healthHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.e.observe(err)
		return err
	}
}
