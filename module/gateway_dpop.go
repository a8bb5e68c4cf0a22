package module

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/token"
)

// SharedStorage is implemented by storage engines whose records are shared
// between Caddy instances (a cluster store). Gateways then record DPoP
// proof jtis in the store, so a proof replayed to another instance is
// refused too; otherwise they use a bounded in-memory replay cache (bolt
// and memory engines are one process's own).
type SharedStorage interface {
	SharedAcrossInstances() bool
}

var dpopReplayCaches = caddy.NewUsagePool()

type pooledReplayCache struct{ *gateway.ReplayCache }

func (pooledReplayCache) Destruct() error { return nil }

// dpopConfig builds the gateway's DPoP configuration: the replay marker is
// the process-wide replay cache (kept across reloads, so a reload does not
// forget the proofs already seen) or the shared store.
func (h *Gateway) dpopConfig(app *App) (gateway.DPoPConfig, error) {
	cfg := gateway.DPoPConfig{Mode: h.DPoP, URL: originalRequestURL}
	if h.DPoP == gateway.DPoPOff {
		return cfg, nil
	}
	if s, ok := app.storage.(SharedStorage); ok && s.SharedAcrossInstances() {
		cfg.Verifier.Replay = storeReplay{app}
		return cfg, nil
	}
	const key = "dpop-replay"
	v, _, err := dpopReplayCaches.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledReplayCache{gateway.NewReplayCache(0, nil)}, nil
	})
	if err != nil {
		return cfg, err
	}
	h.release = append(h.release, func() { _, _ = dpopReplayCaches.Delete(key) })
	cfg.Verifier.Replay = v.(pooledReplayCache).ReplayCache
	return cfg, nil
}

// storeReplay records proof jtis in the shared store, opened on first use
// (never during `caddy validate`).
type storeReplay struct{ app *App }

func (s storeReplay) MarkUsed(ctx context.Context, key string, until time.Time) (bool, error) {
	st, err := s.app.Store()
	if err != nil {
		return false, err
	}
	return st.MarkUsed(ctx, key, until)
}

// originalRequestURL is the URI the client called: the scheme and host of
// the connection and the path before any rewrite of this config (Caddy's
// copy of the original request keeps only method, URL and RequestURI).
// Behind a trusted proxy (Caddy's trusted_proxies) that terminated TLS,
// X-Forwarded-Proto and X-Forwarded-Host name the scheme and host the
// client used; from any other peer they are ignored.
func originalRequestURL(r *http.Request) string {
	path := r.URL.EscapedPath()
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		path = orig.URL.EscapedPath()
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if p := firstForwarded(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	return scheme + "://" + host + path
}

// firstForwarded is the first element of a forwarded list header, the one
// the first proxy (the one the client reached) wrote.
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

var _ token.ReplayMarker = storeReplay{}
