// Package storetest is the conformance suite of storage engines: the one
// specification of what package store's roles mean. Every engine runs it
// from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Engine {
//			return myengine.New(myengine.Options{Now: now})
//		})
//	}
//
// The factory gets the suite's clock (expiry is tested by moving it, never
// by sleeping) and returns a fresh, empty engine with default limits. The
// suite closes every engine it gets.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Factory opens a fresh, empty engine whose expiry clock is now.
type Factory func(t *testing.T, now func() time.Time) store.Engine

// T0 is the suite clock's start.
var T0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is one engine under test with its clock.
type env struct {
	store.Engine
	clock   *Clock
	ctx     context.Context
	factory Factory
}

func open(t *testing.T, f Factory) *env {
	t.Helper()
	clock := NewClock(T0)
	e := f(t, clock.Now)
	if e == nil {
		t.Fatal("factory returned nil")
	}
	t.Cleanup(func() { _ = e.Close() })
	return &env{Engine: e, clock: clock, ctx: context.Background(), factory: f}
}

// Run runs every case of the suite against engines from f.
func Run(t *testing.T, f Factory) {
	groups := []struct {
		name  string
		cases map[string]func(*testing.T, *env)
	}{
		{"SigningKeys", signingKeyCases},
		{"Tokens", tokenCases},
		{"Revocations", revocationCases},
		{"Replay", replayCases},
		{"Clients", clientCases},
		{"Sessions", sessionCases},
		{"Codes", codeCases},
		{"Refresh", refreshCases},
		{"Users", userCases},
		{"Limits", limitCases},
		{"Lifecycle", lifecycleCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, name := range sortedKeys(g.cases) {
				fn := g.cases[name]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, open(t, f))
				})
			}
		})
	}
}
