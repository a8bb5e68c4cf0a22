package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// ClientPollInterval bounds how long a client registered, changed, disabled
// or removed at run time (on any instance sharing the store) takes to take
// effect here, and so does a per-client or per-user revocation: Run checks
// the store's ClientsVersion and reads its not-before records every
// clientCheckInterval, and reads every client again at least every
// ClientPollInterval.
const ClientPollInterval = time.Second

// clientCheckInterval is how often Run asks the store whether any client
// changed (one cheap read); a change is applied at once.
const clientCheckInterval = ClientPollInterval / 4

// clientSnapshot is an immutable view of every client, with what is derived
// from them. Handlers load it once per request.
type clientSnapshot struct {
	byID map[string]*client
	// dummy is what an unknown client's secret is checked against (see
	// dummySet).
	dummy *dummySet
	// metadata is the RFC 8414 document, which lists the clients' scopes
	// and grants.
	metadata []byte
}

// storedClient is a store client as last read and what it built to; an
// unchanged record keeps its *client (and so its rate-limit bucket).
type storedClient struct {
	rec    []byte  // the record, JSON-encoded (compared, not DeepEqual: times)
	client *client // nil: the record is invalid or shadowed (logged once)
}

// clientRegistry merges the config clients (read-only) with the store's
// (run-time) into the snapshot every handler reads. A config client wins
// over a store client with the same id.
type clientRegistry struct {
	snap   atomic.Pointer[clientSnapshot]
	config map[string]*client
	// build turns a store record into a client (the issuer's defaults).
	build  func(*ClientConfig) (*client, error)
	meta   func(map[string]*client) ([]byte, error)
	logger *slog.Logger

	// issuer is the issuer URL: store clients of another issuer are not
	// ours.
	issuer string

	mu       sync.Mutex // serialises sync
	version  uint64     // the store's ClientsVersion at the last sync
	synced   bool       // version is meaningful
	stored   map[string]storedClient
	shadowed map[string]bool // store ids hidden by a config client, logged once
}

func (g *clientRegistry) load() *clientSnapshot { return g.snap.Load() }

// publish builds and stores the snapshot of the config clients and the
// given store clients.
func (g *clientRegistry) publish(stored map[string]storedClient) error {
	all := maps.Clone(g.config)
	for id, s := range stored {
		if _, inConfig := g.config[id]; !inConfig && s.client != nil {
			all[id] = s.client
		}
	}
	dummy, err := dummySecrets(all)
	if err != nil {
		return err
	}
	md, err := g.meta(all)
	if err != nil {
		return err
	}
	g.snap.Store(&clientSnapshot{byID: all, dummy: dummy, metadata: md})
	return nil
}

// sync reads the store's clients and publishes a new snapshot when any was
// added, changed or removed.
func (g *clientRegistry) sync(ctx context.Context, st store.ClientStore) error {
	// One sync at a time, from the read on: a sync that read the store
	// earlier must not publish after one that read it later.
	g.mu.Lock()
	defer g.mu.Unlock()
	// The version is read first: a write after it bumps it again, so the
	// next check reads the clients again.
	version, err := st.ClientsVersion(ctx)
	if err != nil {
		return err
	}
	all, err := st.Clients(ctx)
	if err != nil {
		return err
	}
	recs := all[:0:0]
	for _, rec := range all {
		if rec.Issuer == "" || rec.Issuer == g.issuer {
			recs = append(recs, rec)
		}
	}
	g.version, g.synced = version, true
	next := make(map[string]storedClient, len(recs))
	changed := len(recs) != len(g.stored)
	for _, rec := range recs {
		enc, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if prev, ok := g.stored[rec.ID]; ok && bytes.Equal(prev.rec, enc) {
			next[rec.ID] = prev
			continue
		}
		changed = true
		if _, inConfig := g.config[rec.ID]; inConfig {
			if !g.shadowed[rec.ID] {
				g.shadowed[rec.ID] = true
				g.logger.LogAttrs(ctx, slog.LevelWarn, "store client ignored: a config client has the same id",
					slog.String("client_id", truncate(rec.ID, 64)))
			}
			next[rec.ID] = storedClient{rec: enc}
			continue
		}
		cc := storeClientConfig(rec)
		c, err := g.build(&cc)
		if err != nil {
			g.logger.LogAttrs(ctx, slog.LevelWarn, "store client ignored: invalid",
				slog.String("client_id", truncate(rec.ID, 64)), slog.String("error", err.Error()))
		}
		next[rec.ID] = storedClient{rec: enc, client: c}
	}
	if !changed {
		return nil
	}
	if err := g.publish(next); err != nil {
		return err
	}
	g.stored = next
	return nil
}

// changed reports whether the store's clients changed since the last sync.
func (g *clientRegistry) changed(ctx context.Context, st store.ClientStore) (bool, error) {
	v, err := st.ClientsVersion(ctx)
	if err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.synced || v != g.version, nil
}

// pollClients keeps the snapshot and the not-before records in step with
// the store until ctx is done.
func (i *Issuer) pollClients(ctx context.Context) {
	t := time.NewTicker(clientCheckInterval)
	defer t.Stop()
	const fullEvery = int(ClientPollInterval / clientCheckInterval)
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Revocations by jti (a cheap feed read) land as fast as the
		// rest.
		if err := i.loadRevocations(ctx); err != nil && ctx.Err() == nil {
			i.logger.LogAttrs(ctx, slog.LevelWarn, "reloading revocations failed", slog.String("error", err.Error()))
		}
		if err := i.loadNotBefores(ctx); err != nil && ctx.Err() == nil {
			i.logger.LogAttrs(ctx, slog.LevelWarn, "reloading revocations of clients and users failed", slog.String("error", err.Error()))
		}
		if n%fullEvery == 0 && i.keys != nil {
			for _, m := range append([]*keyManager{i.keys}, i.otherKeyManagers()...) {
				if err := m.pickUpStoredKeys(ctx); err != nil && ctx.Err() == nil {
					i.logger.LogAttrs(ctx, slog.LevelWarn, "reading the signing keys failed", slog.String("error", err.Error()))
				}
			}
		}
		changed, err := i.clients.changed(ctx, i.store)
		if err == nil && !changed && n%fullEvery != 0 {
			continue
		}
		if err := i.clients.sync(ctx, i.store); err != nil && ctx.Err() == nil {
			i.logger.LogAttrs(ctx, slog.LevelWarn, "reloading clients failed", slog.String("error", err.Error()))
		}
	}
}

func newClientRegistry(issuer string, config map[string]*client, build func(*ClientConfig) (*client, error),
	meta func(map[string]*client) ([]byte, error), logger *slog.Logger) (*clientRegistry, error) {
	g := &clientRegistry{issuer: issuer, config: config, build: build, meta: meta, logger: logger, shadowed: map[string]bool{}}
	if err := g.publish(nil); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return g, nil
}
