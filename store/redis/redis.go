// Package redis is authgate's Redis storage engine: every store role on one
// Redis (standalone, Sentinel or Cluster, through go-redis'
// UniversalClient), so that several Caddy instances share one issuer.
//
// # Layout
//
// Every key starts with Options.Prefix (default "authgate:"). A record that a
// script reads and writes together lives under one hash tag, so each script
// touches one Cluster slot:
//
//	<p>{sk:<issuer>}        string  the issuer's signing keys (JSON array)
//	<p>{sk:<issuer>}:lock   string  UpdateSigningKeys' lease lock
//	<p>tok:<hex hash>       string  opaque token record, PXAT its exp
//	<p>{rev}:feed           zset    jti -> feed sequence
//	<p>{rev}:until          zset    jti -> until (unix ms)
//	<p>{rev}:seq            string  last feed sequence (INCR)
//	<p>{rev}:epoch          string  random id of this feed (cursors carry it)
//	<p>m:<marker>           string  single-use marker, PXAT its until
//	<p>{clients}            hash    client id -> JSON
//	<p>{clients}:version    string  ClientsVersion (INCR with every write)
//	<p>{rev}:rt:<hex hash>  string  refresh token record, PXAT its exp
//	<p>{rev}:fam:<id>       string  refresh family record, PXAT its end
//	<p>{nb:<issuer>}        hash    "<kind>\0<id>" -> not-before JSON
//	<p>users                hash    user name -> JSON
//	<p>sess:<kind>\0<id>    string  session record, PXAT its expiry
//	<p>code:<hex hash>      hash    rec (JSON), redeemed (flag); PXAT expiry
//	<p>changes              pub/sub channel of change notifications
//
// # Atomicity
//
//   - Single use (MarkUsed) and code redemption (RedeemCode) are Lua
//     scripts: read, compare with the caller's clock, write, in one step.
//   - UpdateSigningKeys takes a lease lock (SET NX PX, 10 s) per issuer,
//     reads, runs fn once, and writes with a script that succeeds only
//     while the lock is still held (a holder that stalled past its lease
//     fails rather than overwrite a newer result). fn runs exactly once per
//     successful call, so N instances starting at once generate exactly one
//     first key; optimistic WATCH/MULTI would have run fn on every loser.
//   - Revoke and RevocationsSince are scripts over the {rev} slot; the
//     feed's sequence is server-side (INCR), so every instance agrees on
//     its order. Cursors are "<epoch>:<seq>": a Redis that lost its data
//     gets a new epoch and every cursor starts over instead of skipping.
//   - UpdateClient, SetNotBefore and the refresh families are
//     compare-and-set: read, decide in Go (for families the state machine
//     of store/refresh.go, shared with bbolt), then a script writes only if
//     every record read still holds the value read, else the caller reads
//     again (at most 64 times, then ErrUnavailable). A rotation or a
//     family revocation writes the tokens, the family and the revocations
//     of its access tokens in one script (applyScript), so refresh tokens
//     and families live in the {rev} slot with the revocation feed.
//
// # Expiry
//
// Records carry native TTLs (PXAT their expiry): Redis reclaims them. The
// getters also compare expiry with Options.Now, so the engine behaves like
// the others under an injected clock. Revocations cannot expire natively
// (they are members of the feed); Revoke sweeps up to 100 expired ones per
// call. Signing keys past ExpiresAt are dropped by the next update.
//
// # Change notifications
//
// Writes that other instances must see quickly (revocations, those of
// family revocations included; clients; not-befores; signing keys) PUBLISH
// on <p>changes after they succeed; Subscribe
// delivers them, and a synthetic "all" after every (re)connection, so a
// message lost while disconnected is healed by a resync. The issuer's
// periodic polls stay as the fallback.
//
// # How long a call may take
//
// Every role method (and Ping) runs under a deadline of its own,
// Options.OpTimeout (default 2 s) from its start, whatever the caller's
// context carries (request contexts often carry none): waiting for a pooled
// connection, connecting, every command of the call (a compare-and-set
// loop's rounds, a script's EVALSHA then EVAL, a Cluster redirection) and
// go-redis' retries of them all count. go-redis honours the deadline while
// it waits and, with ContextTimeoutEnabled, in socket reads and writes, so
// a Redis that never answers (a SYN dropped, a server that accepts and
// stays silent) fails the call with ErrUnavailable at OpTimeout. A
// caller's earlier deadline or cancellation ends it sooner, as that
// context error. The callbacks (UpdateSigningKeys' and UpdateClient's fn)
// run inside the bound: callers prepare slow work (key generation) before.
//
// Two pieces of work follow a call's own rules. The PUBLISH of a change
// after a write goes on if the caller cancels, but not past the call's
// deadline (a notification lost that way is healed by the instances'
// polls). UpdateSigningKeys, off the request path (key generation and
// rotation), may wait for another instance's lease lock: that wait is
// bounded by the lease (10 s, what the lock of an instance that died
// lives) plus OpTimeout, each SETNX and then the rest of the call by
// OpTimeout, and the unlock after a failure has an OpTimeout of its own,
// whatever the caller does, so a call that ran out of time still frees the
// lock instead of leaving the others to wait out its lease.
// SubscribeChanges is not a call: it runs until its context ends.
//
// # Retries
//
// Within the bound go-redis still retries (bound.go), but only as much as
// fits well inside it, so that a refused connection (Redis stopped) fails
// with its own error in about 0.2 s rather than at OpTimeout:
//
//   - a command that meets a broken connection is retried twice, 10-100 ms
//     apart: a pooled connection dropped by a Redis restart, a proxy or an
//     idle timeout is replaced by a fresh one, and a Sentinel or Cluster
//     client that has learnt of a failover reaches the new master, without
//     failing the request;
//   - a dial is tried twice, 50 ms apart: a master that is restarting, a
//     Sentinel switch in progress.
//
// Riding out a longer failover is the callers' job: the call fails with
// ErrUnavailable, the endpoints answer 503 with Retry-After, and the
// engine reconnects by itself when Redis is back.
//
// # Adding a role
//
// A new store role is one file here (like refresh.go, users.go): its key names in the table above (one hash tag per record
// that a script touches as a whole), values JSON-encoded with
// store.Encode, PXAT the record's expiry, getters checking store.Expired
// against e.now(), atomic read-modify-write as a script in scripts.go
// (KEYS from one slot), and a PUBLISH of a new change kind when other
// instances cache it. Then the role is in store.Engine, and storetest
// runs it on Redis standalone and Cluster (redis_test.go).
package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authgate/caddy-authgate/store"
)

// DefaultPrefix starts every key of the engine.
const DefaultPrefix = "authgate:"

// Defaults of the engine.
const (
	// DefaultDialTimeout bounds one attempt to connect to Redis (within
	// the call's OpTimeout: see the package doc).
	DefaultDialTimeout = 2 * time.Second
	// DefaultOpTimeout bounds one engine call, every command and retry of
	// it included: an unreachable Redis fails a request with
	// ErrUnavailable within it instead of hanging (see the package doc).
	DefaultOpTimeout = 2 * time.Second
	// DefaultOutageGrace is how long gateways keep admitting tokens from
	// memory while Redis is unreachable, then fail closed.
	DefaultOutageGrace = time.Minute
	// lockLease is how long an UpdateSigningKeys lock lives when its
	// holder dies.
	lockLease = 10 * time.Second
)

// ErrUnavailable is store.ErrUnavailable.
var ErrUnavailable = store.ErrUnavailable

// Options configure New.
type Options struct {
	// Addrs are host:port addresses: one for a standalone server, several
	// for Cluster seeds, or Sentinel addresses when MasterName is set.
	Addrs []string
	// MasterName, when set, is the Sentinel master's name.
	MasterName string
	// DB is the database number (standalone and Sentinel only).
	DB       int
	Username string
	Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels
	// (default: none).
	SentinelUsername string
	SentinelPassword string
	// TLS, when non-nil, is used for every connection.
	TLS *tls.Config
	// Cluster forces a Cluster client for a single seed address.
	Cluster bool
	// Prefix starts every key; default DefaultPrefix. It may not hold a
	// brace (hash tags are the engine's).
	Prefix string
	// Now is the clock used for expiry; default time.Now.
	Now func() time.Time
	// MaxRecordSize caps one encoded record; default
	// store.DefaultMaxRecordSize.
	MaxRecordSize int
	// OutageGrace is what OutageGrace reports (store.HealthReporter);
	// default DefaultOutageGrace.
	OutageGrace time.Duration
	// OpTimeout bounds one call of any role method (and Ping): waiting for
	// a connection, connecting, every command and go-redis' retries; past
	// it the call fails with ErrUnavailable (the package doc says how).
	// Default DefaultOpTimeout. A caller's earlier deadline ends it sooner.
	OpTimeout time.Duration
	// DialTimeout bounds one connection attempt (never more than what is
	// left of the call's OpTimeout); default DefaultDialTimeout.
	DialTimeout time.Duration
	// Logger receives connection trouble; default none.
	Logger *slog.Logger
}

// Engine is the Redis engine. It is safe for concurrent use, in one
// process and across every process sharing the Redis.
type Engine struct {
	c         goredis.UniversalClient
	prefix    string
	now       func() time.Time
	maxRecord int
	log       *slog.Logger
	grace     time.Duration
	opTimeout time.Duration // the bound of one call (bound.go)

	down      atomic.Int64 // unix nanos of the first failure since the last success; 0: up
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	ctx       context.Context // done at Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	families  familyIndex // refresh token hash -> family id (a hint)
}

var (
	_ store.Engine         = (*Engine)(nil)
	_ store.ChangeNotifier = (*Engine)(nil)
	_ store.HealthReporter = (*Engine)(nil)
)

// New returns an engine on the Redis of opts. It does not connect: the
// first command does (and every command reconnects as needed), so a Redis
// that is down at start is not fatal. Ping checks it.
func New(opts Options) (*Engine, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("store/redis: no address")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("store/redis: prefix %q may not hold braces", opts.Prefix)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = store.DefaultMaxRecordSize
	}
	if opts.OutageGrace <= 0 {
		opts.OutageGrace = DefaultOutageGrace
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = DefaultOpTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	uo := &goredis.UniversalOptions{
		Addrs:            opts.Addrs,
		MasterName:       opts.MasterName,
		DB:               opts.DB,
		Username:         opts.Username,
		Password:         opts.Password,
		SentinelUsername: opts.SentinelUsername,
		SentinelPassword: opts.SentinelPassword,
		TLSConfig:        opts.TLS,
		DialTimeout:      opts.DialTimeout,
		ReadTimeout:      opts.OpTimeout,
		WriteTimeout:     opts.OpTimeout,
		IsClusterMode:    opts.Cluster,
		// The call's deadline (bound.go) reaches the socket reads and
		// writes, not only the waits between them.
		ContextTimeoutEnabled: true,
		// go-redis retries a command only on a broken connection (e.g.
		// the pooled connections of a Redis that restarted); whatever
		// was not acknowledged in the end is reported as failed, never as
		// done. A script retried after it ran answers as a replay (single
		// use, codes): it fails closed. How many retries, and why these
		// remain: the package doc, "Retries".
		MaxRetries:         commandRetries,
		MinRetryBackoff:    minRetryBackoff,
		MaxRetryBackoff:    maxRetryBackoff,
		DialerRetries:      dialAttempts,
		DialerRetryTimeout: dialRetryPause,
	}
	e := &Engine{
		c:         goredis.NewUniversalClient(uo),
		prefix:    opts.Prefix,
		now:       opts.Now,
		maxRecord: opts.MaxRecordSize,
		log:       opts.Logger,
		grace:     opts.OutageGrace,
		opTimeout: opts.OpTimeout,
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.c.AddHook(healthHook{e})
	quietOnce.Do(func() { goredis.SetLogger(quietLogger{}) })
	return e, nil
}

// Client returns the underlying client (tests and tools).
func (e *Engine) Client() goredis.UniversalClient { return e.c }

// Ping checks that Redis answers.
func (e *Engine) Ping(ctx context.Context) error {
	if err := e.usable(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	return e.wrap(ctx, e.c.Ping(ctx).Err())
}

// Close stops subscriptions and closes the connections. Calling it again is
// a no-op.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		e.cancel()
		e.closeErr = e.c.Close()
		e.wg.Wait()
	})
	return e.closeErr
}

func (e *Engine) usable(ctx context.Context) error {
	if e.closed.Load() {
		return fmt.Errorf("%w (redis)", store.ErrClosed)
	}
	return ctx.Err()
}

// wrap classifies an error from go-redis in the call of ctx: nil stays nil,
// a closed client is ErrClosed, the call's own bound running out
// (bound.go) is ErrUnavailable, the caller's context ending is its context
// error, everything else is ErrUnavailable. It asks ctx, not err, whose
// context error it is: a dial attempt's own DialTimeout also answers
// errors.Is(err, context.DeadlineExceeded).
func (e *Engine) wrap(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.ErrClosed) || e.closed.Load():
		return fmt.Errorf("%w (redis)", store.ErrClosed)
	case errors.Is(context.Cause(ctx), errOutOfTime):
		return fmt.Errorf("%w: no answer within %s: %v", ErrUnavailable, e.opTimeout, err)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (e *Engine) key(parts ...string) string { return e.prefix + strings.Join(parts, "") }

// ms is t in unix milliseconds, rounded up so that a record never expires
// before its instant.
func ms(t time.Time) int64 {
	n := t.UnixNano()
	m := n / 1e6
	if n%1e6 > 0 {
		m++
	}
	return m
}

// pxat is the native expiry of a record valid until t; at least 1 (PXAT
// refuses 0 and below).
func pxat(t time.Time) time.Time {
	if t.UnixMilli() < 1 {
		return time.UnixMilli(1)
	}
	return time.UnixMilli(ms(t))
}

// quietLogger drops go-redis' own log lines (they go to stderr, outside
// Caddy's logs); every failure reaches the caller as an error, and the
// engine logs what it handles itself.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
