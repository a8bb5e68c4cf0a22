package module

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

// keyRouting decides which keys verify a token, by its issuer:
//   - an issuer configured in the same Caddy (authgate_issuer) is trusted
//     in-process, whatever else is configured;
//   - explicit keys (key files, hmac_secret, jwks URLs) verify every accepted
//     issuer's tokens;
//   - without explicit keys, each issuer's keys come from its discovery
//     document, routed by `iss` in one map lookup.
//
// Which issuers are in-process is only known once every handler of the
// config is provisioned, so that is resolved when the authgate app starts
// (or on first use, whichever comes first).
type keyRouting struct {
	app        *App
	issuers    []string
	static     *token.KeySet
	jwks       []*jwkscache.Source
	discovery  map[string]*jwkscache.Discovered
	explicit   token.KeyResolver // static + jwks, nil when none
	hasHMAC    bool
	jwksOwner  func()   // releases the shared JWKS cache
	sourceRefs []func() // release this config's hold on each key source
	// discoveryRefs release this config's hold on each issuer's discovery
	// source; resolve releases those of in-process issuers at once.
	discoveryRefs map[string]func()
	refsMu        sync.Mutex // discoveryRefs: resolve and cleanup
	// leaving: issuers whose discovery waits for the previous config's
	// in-process issuer of that URL to go (startDiscovery); written in
	// resolution, read after it.
	leaving    map[string]<-chan struct{}
	stop       chan struct{} // closed by cleanup
	stopOnce   sync.Once
	resolution sync.Once
	local      map[string]gateway.LocalIssuer
	localAll   []gateway.LocalIssuer

	// fingerprint identifies the key sources, so handlers with the same
	// sources share one verified-token cache.
	fingerprint string
}

func (h *Gateway) buildKeyRouting(ctx caddy.Context, app *App) (_ *keyRouting, err error) {
	kr := &keyRouting{app: app, issuers: h.Issuers, stop: make(chan struct{})}
	defer func() {
		if err != nil {
			kr.cleanup() // release what was taken before the failure
		}
	}()
	fp := sha256.New()
	fmt.Fprintf(fp, "issuers=%q\n", h.Issuers)

	var keys []*token.Key
	for _, path := range h.Keys {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("authgate: key file: %w", err)
		}
		fileKeys, err := token.ParseKeyFile(data, path)
		if err != nil {
			return nil, fmt.Errorf("authgate: %w", err)
		}
		keys = append(keys, fileKeys...)
		fmt.Fprintf(fp, "key=%s %x\n", path, sha256.Sum256(data))
	}
	if h.HMACSecret != "" {
		secret, err := caddy.NewReplacer().ReplaceOrErr(h.HMACSecret, true, true)
		if err != nil {
			return nil, fmt.Errorf("authgate: hmac_secret: %w", err)
		}
		k, err := token.NewKey("", "", []byte(secret), "hmac_secret")
		if err != nil {
			return nil, fmt.Errorf("authgate: hmac_secret: %w", err)
		}
		keys = append(keys, k)
		kr.hasHMAC = true
		fmt.Fprintf(fp, "hmac=%x\n", sha256.Sum256([]byte(secret)))
	}
	if len(keys) > 0 {
		kr.static = token.NewKeySet(keys...)
	}

	needCache := len(h.JWKS) > 0 || (len(keys) == 0 && len(h.Issuers) > 0)
	var cache *jwkscache.Cache
	if needCache {
		cache, kr.jwksOwner, err = sharedJWKSCache(ctx)
		if err != nil {
			return nil, err
		}
	}
	for _, j := range h.JWKS {
		opts := j.options()
		kr.jwks = append(kr.jwks, cache.JWKS(j.URL, opts))
		if err := kr.hold("jwks "+j.URL+" "+opts.WithDefaults().Key(), func() { cache.DropJWKS(j.URL, opts) }); err != nil {
			return nil, err
		}
		fmt.Fprintf(fp, "jwks=%s %s\n", j.URL, opts.Key())
	}
	if kr.static != nil || len(kr.jwks) > 0 {
		kr.explicit = &explicitKeys{static: kr.static, jwks: kr.jwks}
	} else if len(h.Issuers) > 0 {
		kr.discovery = make(map[string]*jwkscache.Discovered, len(h.Issuers))
		kr.discoveryRefs = make(map[string]func(), len(h.Issuers))
		for _, iss := range h.Issuers {
			kr.discovery[iss] = cache.Discovery(iss, jwkscache.Options{})
			release, err := holdSource("issuer "+iss, func() { cache.DropDiscovery(iss, jwkscache.Options{}) })
			if err != nil {
				return nil, err
			}
			kr.discoveryRefs[iss] = release
			fmt.Fprintf(fp, "discovery=%s\n", iss)
		}
	} else if h.Introspect == nil {
		return nil, fmt.Errorf("authgate: %w", errNoKeySource)
	}
	kr.fingerprint = hex.EncodeToString(fp.Sum(nil))
	return kr, nil
}

func (j JWKSConfig) options() jwkscache.Options {
	return jwkscache.Options{
		Timeout:         time.Duration(j.Timeout),
		MinRefresh:      time.Duration(j.RefreshMin),
		MaxRefresh:      time.Duration(j.RefreshMax),
		RefetchInterval: time.Duration(j.RefetchInterval),
		MaxStale:        time.Duration(j.MaxStale),
	}
}

// resolve finds the in-process issuers and starts fetching the others' keys.
func (kr *keyRouting) resolve() {
	kr.resolution.Do(func() {
		kr.local = make(map[string]gateway.LocalIssuer)
		for _, iss := range kr.issuers {
			if l, ok := kr.app.LocalIssuer(iss); ok {
				kr.local[iss] = l
				kr.localAll = append(kr.localAll, l)
				// Its discovery source must not outlive the config that
				// started it: kept alive by this one, it would go on
				// fetching our own issuer's keys, and a later config
				// without the issuer would verify its tokens (revoked
				// ones included) as an external issuer's.
				kr.releaseDiscovery(iss)
				continue
			}
			if d := kr.discovery[iss]; d != nil {
				kr.startDiscovery(iss, d)
			}
		}
		for _, s := range kr.jwks {
			s.Start()
		}
	})
}

// start runs when the authgate app starts: after every handler was
// provisioned, and never under `caddy validate`.
func (kr *keyRouting) start() error {
	kr.resolve()
	return nil
}

// ByURL implements gateway.LocalIssuers.
func (kr *keyRouting) ByURL(url string) gateway.LocalIssuer {
	kr.resolve()
	return kr.local[url]
}

// All implements gateway.LocalIssuers.
func (kr *keyRouting) All() []gateway.LocalIssuer {
	kr.resolve()
	return kr.localAll
}

// keys returns the resolver for tokens that are not from a local issuer.
func (kr *keyRouting) keys() token.IssuerKeys {
	if kr.explicit != nil {
		return func(string) (token.KeyResolver, error) { return kr.explicit, nil }
	}
	return func(iss string) (token.KeyResolver, error) {
		if d, ok := kr.discovery[iss]; ok {
			if gone := kr.leaving[iss]; gone != nil && !closed(gone) {
				return nil, fmt.Errorf("issuer %s is being removed from this process: %w", iss, token.ErrKeysUnavailable)
			}
			return d, nil
		}
		return nil, &token.Error{Reason: token.ReasonIssuer, Description: fmt.Sprintf("issuer %q is not trusted", iss)}
	}
}

// defaultAlgorithms: with only static keys, exactly what they support;
// otherwise every asymmetric algorithm, plus HS* when an HMAC key may exist
// (hmac_secret, or an in-process issuer that signs with HMAC).
func (kr *keyRouting) defaultAlgorithms() []string {
	var algs []string
	if kr.static != nil && len(kr.jwks) == 0 && len(kr.issuers) == 0 {
		for _, k := range kr.static.Keys() {
			for _, a := range k.Kind.Algorithms() {
				if k.Allows(a) && !slices.Contains(algs, a) {
					algs = append(algs, a)
				}
			}
		}
		sort.Strings(algs)
		return algs
	}
	for _, kind := range []token.KeyKind{token.KindP256, token.KindP384, token.KindP521, token.KindRSA, token.KindEd25519} {
		algs = append(algs, kind.Algorithms()...)
	}
	if kr.hasHMAC || len(kr.issuers) > 0 {
		algs = append(algs, token.KindHMAC.Algorithms()...)
	}
	return algs
}

// hold references a key source for as long as this config lives.
func (kr *keyRouting) hold(key string, drop func()) error {
	release, err := holdSource(key, drop)
	if err == nil {
		kr.sourceRefs = append(kr.sourceRefs, release)
	}
	return err
}

// startDiscovery starts fetching an external issuer's keys, unless an
// in-process issuer of that URL from the previous config is still alive
// (see aliveIssuers): then its tokens are "unavailable" (503, retry) and the
// discovery starts once that issuer is gone.
func (kr *keyRouting) startDiscovery(iss string, d *jwkscache.Discovered) {
	gone := aliveIssuerGone(iss)
	if gone == nil {
		d.Start()
		return
	}
	if kr.leaving == nil {
		kr.leaving = make(map[string]<-chan struct{})
	}
	kr.leaving[iss] = gone
	go func() {
		select {
		case <-gone:
			d.Start()
		case <-kr.stop:
		}
	}()
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// releaseDiscovery drops this config's hold on iss's discovery source.
func (kr *keyRouting) releaseDiscovery(iss string) {
	kr.refsMu.Lock()
	release := kr.discoveryRefs[iss]
	delete(kr.discoveryRefs, iss)
	kr.refsMu.Unlock()
	if release != nil {
		release()
	}
}

// cleanup releases the key sources, then the cache that holds them.
func (kr *keyRouting) cleanup() {
	if kr.stop != nil {
		kr.stopOnce.Do(func() { close(kr.stop) })
	}
	kr.refsMu.Lock()
	for iss, release := range kr.discoveryRefs {
		release()
		delete(kr.discoveryRefs, iss)
	}
	kr.refsMu.Unlock()
	for _, release := range kr.sourceRefs {
		release()
	}
	kr.sourceRefs = nil
	if kr.jwksOwner != nil {
		kr.jwksOwner()
		kr.jwksOwner = nil
	}
}

// explicitKeys combines the static keys (key files, hmac_secret) and the
// JWKS URLs. A token with a kid is looked up by that kid in every source
// first (static keys, then each JWKS, which re-fetches once, rate-limited,
// on an unknown kid); only when no source has the kid are the kid-less keys
// tried (PEM files, hmac_secret, kid-less JWKS entries), at most
// token.MaxKidlessCandidates of them. So a kid-less PEM key next to a JWKS
// never answers for a kid the JWKS publishes or is about to publish.
//
// When no source has the kid and a JWKS source could not tell (never
// fetched, stale), the answer is "unavailable" (503), not "unknown key" or
// "bad signature": fail closed, retry later. Kid-less keys are still tried
// first, so PEM-signed tokens keep working while a JWKS provider is down.
type explicitKeys struct {
	static *token.KeySet
	jwks   []*jwkscache.Source
}

func (e *explicitKeys) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if kid == "" {
		return e.resolveNoKid(ctx, alg)
	}
	if keys := e.static.LookupKid(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	var unavailable error
	fallback := e.static.Kidless(alg)
	for _, s := range e.jwks {
		keys, err := s.ResolveKeys(ctx, kid, alg)
		if err == nil && len(keys) > 0 {
			if keys[0].ID == kid {
				return keys, nil
			}
			// The set's own kid-less keys, offered for an unknown kid:
			// candidates only once every source was asked by kid.
			fallback = append(fallback, keys...)
		}
		if errors.Is(err, token.ErrKeysUnavailable) && unavailable == nil {
			unavailable = err
		}
	}
	if len(fallback) > 0 {
		// With unavailable set, the verifier answers 503 if none verifies.
		return fallback[:min(len(fallback), token.MaxKidlessCandidates)], unavailable
	}
	if unavailable != nil {
		return nil, unavailable
	}
	return nil, token.ErrUnknownKey
}

// resolveNoKid serves tokens without a kid: the static keys, then each JWKS
// (both bounded by token.MaxKidlessCandidates).
func (e *explicitKeys) resolveNoKid(ctx context.Context, alg string) ([]*token.Key, error) {
	if keys := e.static.Lookup("", alg); len(keys) > 0 {
		return keys, nil
	}
	var unavailable error
	for _, s := range e.jwks {
		keys, err := s.ResolveKeys(ctx, "", alg)
		if err == nil && len(keys) > 0 {
			return keys, nil
		}
		if errors.Is(err, token.ErrKeysUnavailable) && unavailable == nil {
			unavailable = err
		}
	}
	if unavailable != nil {
		return nil, unavailable
	}
	return nil, token.ErrUnknownKey
}
