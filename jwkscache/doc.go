// Package jwkscache fetches, caches and refreshes JSON Web Key Sets, directly
// from a JWKS URL or through OpenID Connect / OAuth 2.0 (RFC 8414) discovery.
//
// A Cache holds a bounded number of key sources (an LRU keyed by URL and
// Options). Each source implements token.KeyResolver:
//
//   - Nothing is fetched at construction, so config validation never touches
//     the network. Start (or the first ResolveKeys) begins the first fetch in
//     the background; WaitReady waits for it with a caller-chosen bound.
//   - A routine refresh runs in the background at 80-90% of the key set's
//     lifetime (Cache-Control max-age / Expires, clamped to
//     [MinRefresh, MaxRefresh]), so no request waits for it.
//   - A token whose kid is unknown causes at most one re-fetch per
//     RefetchInterval per source, shared by all concurrent requests; tokens
//     arriving in between fail fast with token.ErrUnknownKey.
//   - When fetches fail, the last good set keeps serving for MaxStale after
//     the last successful fetch while the source retries with exponential
//     backoff. A source with no usable set fails closed with an
//     *UnavailableError, which matches token.ErrKeysUnavailable.
//   - Keys that disappear from a refreshed set are Retire()d, keys that stay
//     keep their identity (token.Reconcile).
//
// Resolving a known kid is an atomic pointer load, a clock read and a map
// lookup: no lock, no allocation.
//
// The package does not import Caddy; the module wires its logger, metrics
// (Observer) and lifecycle (Close) in.
package jwkscache
