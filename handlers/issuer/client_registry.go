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

// ClientPollInterval is how often Run reads the store's clients: a client
// registered, changed or removed at run time takes effect within it.
const ClientPollInterval = time.Second

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

	mu       sync.Mutex // serialises sync
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
	recs, err := st.Clients(ctx)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
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

// storeClientConfig is the ClientConfig of a store client: what the record
// does not say takes the issuer's defaults.
func storeClientConfig(rec store.Client) ClientConfig {
	cc := ClientConfig{
		ID: rec.ID, Name: rec.Name, Scopes: rec.Scopes, Audience: rec.Audience,
		GrantTypes: rec.GrantTypes, Disabled: rec.Disabled,
	}
	for _, h := range rec.SecretHashes {
		cc.Secrets = append(cc.Secrets, SecretConfig{Hash: h.Hash, Expires: h.Expires})
	}
	return cc
}

// pollClients keeps the snapshot in step with the store until ctx is done.
func (i *Issuer) pollClients(ctx context.Context) {
	t := time.NewTicker(ClientPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := i.clients.sync(ctx, i.store); err != nil && ctx.Err() == nil {
				i.logger.LogAttrs(ctx, slog.LevelWarn, "reloading clients failed", slog.String("error", err.Error()))
			}
		}
	}
}

func newClientRegistry(config map[string]*client, build func(*ClientConfig) (*client, error),
	meta func(map[string]*client) ([]byte, error), logger *slog.Logger) (*clientRegistry, error) {
	g := &clientRegistry{config: config, build: build, meta: meta, logger: logger, shadowed: map[string]bool{}}
	if err := g.publish(nil); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return g, nil
}
