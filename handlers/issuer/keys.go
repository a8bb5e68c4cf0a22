package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// Key schedule. A key is generated (and published in the JWKS) `lead` before
// it starts signing; lead equals the JWKS max-age, so every cache that
// honours max-age has seen it first. When a newer key takes over, the old one
// is retired and stays published until RetiredAt + the longest access token
// lifetime + keyExpirySkew, after which no token it signed is still valid.
const (
	// maxPublishLead is the JWKS max-age and publication lead for long
	// rotation periods.
	maxPublishLead = 5 * time.Minute
	// keyExpirySkew is added to a retired key's publication period.
	keyExpirySkew = time.Minute
	// keyRecheck bounds the time between two reads of the stored keys, so
	// keys created by another issuer instance on the same store are seen.
	keyRecheck = time.Minute
	// keyRetry is the delay before retrying a failed key refresh.
	keyRetry = 5 * time.Second
)

// publishLead returns the publication lead (and JWKS max-age) for a rotation
// period: a quarter of it, at least 1s and at most 5 minutes.
func publishLead(rotation time.Duration) time.Duration {
	lead := (rotation / 4).Truncate(time.Second)
	if lead < time.Second {
		lead = time.Second
	}
	if lead > maxPublishLead {
		lead = maxPublishLead
	}
	return lead
}

// loadedKey is a stored key, parsed once.
type loadedKey struct {
	rec    store.SigningKey
	signer *token.Signer
	jwk    map[string]any // nil for HMAC keys
}

// keyState is an immutable snapshot of the keys.
type keyState struct {
	signer *token.Signer // the active key
	set    *token.KeySet // every non-expired key (public halves, HMAC secrets)
	jwks   []byte        // JWKS document of the published asymmetric keys
	kids   []string      // published kids, oldest first
}

type keyManager struct {
	store    store.SigningKeyStore
	issuer   string // keys are stored per issuer
	alg      string
	rotation time.Duration
	lead     time.Duration
	maxTTL   time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu     sync.Mutex // serialises refresh
	closed bool       // retireAll ran: load nothing more
	loaded map[string]*loadedKey
	state  atomic.Pointer[keyState]
	next   atomic.Int64 // unix nanos of the next scheduled refresh

	// storedPrint is what pickUpStoredKeys last saw in the store.
	storedPrint string
}

func newKeyManager(st store.SigningKeyStore, issuer, alg string, rotation, maxTTL time.Duration, now func() time.Time, log *slog.Logger) *keyManager {
	return &keyManager{
		store: st, issuer: issuer, alg: alg, rotation: rotation, lead: publishLead(rotation),
		maxTTL: maxTTL, now: now, log: log, loaded: make(map[string]*loadedKey),
	}
}

// current returns the key snapshot, refreshing it first when a scheduled
// event (activation, rotation, expiry) is due. The check is one atomic load;
// only one caller refreshes, the others keep using the previous snapshot.
func (m *keyManager) current(ctx context.Context) *keyState {
	if m.now().UnixNano() >= m.next.Load() {
		if m.mu.TryLock() {
			if m.now().UnixNano() >= m.next.Load() {
				if err := m.refreshLocked(ctx); err != nil {
					m.log.LogAttrs(ctx, slog.LevelError, "signing key refresh failed", slog.String("error", err.Error()))
				}
			}
			m.mu.Unlock()
		}
	}
	return m.state.Load()
}

// refresh reads the stored keys, applies the schedule (creating, activating,
// retiring keys inside one store transaction when needed) and publishes a
// new snapshot.
func (m *keyManager) refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refreshLocked(ctx)
}

func (m *keyManager) refreshLocked(ctx context.Context) error {
	if m.closed {
		return nil
	}
	now := m.now()
	err := m.refreshAt(ctx, now)
	if err != nil {
		m.next.Store(now.Add(keyRetry).UnixNano())
	}
	return err
}

func (m *keyManager) refreshAt(ctx context.Context, now time.Time) error {
	recs, err := m.store.SigningKeys(ctx, m.issuer)
	if err != nil {
		return err
	}
	if _, changed, needKey := m.plan(clone(recs), now, nil); changed || needKey {
		var fresh *store.SigningKey
		if needKey {
			if fresh, err = m.generate(now); err != nil {
				return err
			}
		}
		recs, err = m.store.UpdateSigningKeys(ctx, m.issuer, func(cur []store.SigningKey) ([]store.SigningKey, error) {
			out, _, _ := m.plan(cur, now, fresh)
			return out, nil
		})
		if err != nil {
			return fmt.Errorf("storing signing keys: %w", err)
		}
	}
	return m.install(recs, now)
}

func clone(recs []store.SigningKey) []store.SigningKey {
	return append([]store.SigningKey(nil), recs...)
}

// plan applies the key schedule to keys at now. It returns the new list,
// whether it differs, and whether a new key is needed; when fresh is non-nil
// and a key is needed, fresh is added to the list.
func (m *keyManager) plan(keys []store.SigningKey, now time.Time, fresh *store.SigningKey) (out []store.SigningKey, changed, needKey bool) {
	var active *store.SigningKey
	pending := false
	for idx := range keys {
		k := &keys[idx]
		if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
			continue // expired: unpublished, Purge deletes it
		}
		if !k.RetiredAt.IsZero() {
			continue
		}
		if k.ActiveAt.After(now) {
			if k.Alg == m.alg {
				pending = true
			}
			continue
		}
		if active == nil || k.ActiveAt.After(active.ActiveAt) || (k.ActiveAt.Equal(active.ActiveAt) && k.ID > active.ID) {
			active = k
		}
	}
	// Retire every key that a newer active key took over from. A key signs
	// until the snapshot that replaces it is installed, which is now (later
	// than the successor's ActiveAt when a refresh was late or failed, e.g.
	// the store was unavailable at the activation time): its tokens expire
	// by now + maxTTL, so that is when it may leave the JWKS.
	if active != nil {
		retired := active.ActiveAt
		if now.After(retired) {
			retired = now
		}
		for idx := range keys {
			k := &keys[idx]
			if k == active || !k.RetiredAt.IsZero() || k.ActiveAt.After(now) {
				continue
			}
			k.RetiredAt = retired
			k.ExpiresAt = retired.Add(m.maxTTL + keyExpirySkew)
			changed = true
		}
	}
	var activeAt time.Time
	switch {
	case active == nil:
		// Nothing can sign: the first start (or every key expired). The new
		// key signs at once; verifiers that do not know it re-fetch the JWKS
		// on an unknown kid.
		needKey = true
		activeAt = now
	case pending:
	case active.Alg != m.alg:
		// signing_alg changed: publish a key of the new algorithm first.
		needKey = true
		activeAt = now.Add(m.lead)
	case !now.Before(active.ActiveAt.Add(m.rotation - m.lead)):
		needKey = true
		activeAt = active.ActiveAt.Add(m.rotation)
		if min := now.Add(m.lead); activeAt.Before(min) {
			activeAt = min
		}
	}
	if needKey && fresh != nil {
		k := *fresh
		k.ActiveAt = activeAt
		if k.CreatedAt.After(activeAt) {
			k.CreatedAt = activeAt
		}
		keys = append(keys, k)
		changed = true
		if active == nil {
			// Re-run so that the key just added is the active one.
			return m.replan(keys, now)
		}
	}
	return keys, changed, needKey
}

func (m *keyManager) replan(keys []store.SigningKey, now time.Time) ([]store.SigningKey, bool, bool) {
	out, _, _ := m.plan(keys, now, nil)
	return out, true, false
}

// generateKey makes a new private key. A variable so that the package's
// tests can hand out pre-made RSA keys: RSA key generation was 87 % of
// their CPU (keygen_pool_test.go).
var generateKey = token.GenerateKey

func (m *keyManager) generate(now time.Time) (*store.SigningKey, error) {
	priv, err := generateKey(m.alg)
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", m.alg, err)
	}
	der, err := token.MarshalPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	kid, err := randomString(12)
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{ID: kid, Alg: m.alg, Private: der, CreatedAt: now}, nil
}

// install parses new keys and swaps in a snapshot built from recs.
func (m *keyManager) install(recs []store.SigningKey, now time.Time) error {
	sort.SliceStable(recs, func(a, b int) bool { return recs[a].ActiveAt.Before(recs[b].ActiveAt) })
	var (
		keys    []*token.Key
		jwks    []map[string]any
		kids    []string
		active  *loadedKey
		seen    = make(map[string]bool, len(recs))
		nextEvt = now.Add(keyRecheck)
	)
	sooner := func(t time.Time) {
		if t.After(now) && t.Before(nextEvt) {
			nextEvt = t
		}
	}
	for _, rec := range recs {
		if !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt) {
			continue
		}
		lk, ok := m.loaded[rec.ID]
		if !ok || lk.rec.Alg != rec.Alg || string(lk.rec.Private) != string(rec.Private) {
			var err error
			if lk, err = loadKey(rec); err != nil {
				m.log.Error("skipping unusable signing key", slog.String("kid", rec.ID), slog.String("error", err.Error()))
				continue
			}
			m.loaded[rec.ID] = lk
		}
		lk.rec = rec
		seen[rec.ID] = true
		keys = append(keys, lk.signer.VerificationKey())
		kids = append(kids, rec.ID)
		if lk.jwk != nil {
			jwks = append(jwks, lk.jwk)
		}
		if rec.RetiredAt.IsZero() && !rec.ActiveAt.After(now) {
			if active == nil || !rec.ActiveAt.Before(active.rec.ActiveAt) {
				active = lk
			}
		}
		sooner(rec.ActiveAt)
		if !rec.ExpiresAt.IsZero() {
			sooner(rec.ExpiresAt)
		}
	}
	if active == nil {
		return errors.New("no active signing key")
	}
	if active.rec.Alg == m.alg {
		sooner(active.rec.ActiveAt.Add(m.rotation - m.lead))
	}
	for kid, lk := range m.loaded {
		if !seen[kid] {
			lk.signer.VerificationKey().Retire()
			delete(m.loaded, kid)
		}
	}
	if jwks == nil {
		jwks = []map[string]any{}
	}
	doc, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		return err
	}
	m.state.Store(&keyState{signer: active.signer, set: token.NewKeySet(keys...), jwks: doc, kids: kids})
	m.next.Store(nextEvt.UnixNano())
	return nil
}

func loadKey(rec store.SigningKey) (*loadedKey, error) {
	priv, err := token.ParsePrivateKey(rec.Alg, rec.Private)
	if err != nil {
		return nil, err
	}
	s, err := token.NewSigner(rec.ID, rec.Alg, priv)
	if err != nil {
		return nil, err
	}
	lk := &loadedKey{rec: rec, signer: s}
	if !token.IsHMAC(rec.Alg) {
		if lk.jwk, err = token.PublicJWK(rec.ID, rec.Alg, priv); err != nil {
			return nil, err
		}
	}
	return lk, nil
}

// retireAll retires every loaded key (see Issuer.RetireKeys).
func (m *keyManager) retireAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for kid, lk := range m.loaded {
		lk.signer.VerificationKey().Retire()
		delete(m.loaded, kid)
	}
}

// run refreshes the keys whenever an event is due (and at least every
// keyRecheck) until ctx is done.
func (m *keyManager) run(ctx context.Context) {
	for {
		wait := time.Until(time.Unix(0, m.next.Load()))
		if wait < 50*time.Millisecond {
			wait = 50 * time.Millisecond
		}
		if wait > keyRecheck {
			wait = keyRecheck
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if m.now().UnixNano() >= m.next.Load() {
			if err := m.refresh(ctx); err != nil && ctx.Err() == nil {
				m.log.LogAttrs(ctx, slog.LevelError, "signing key refresh failed", slog.String("error", err.Error()))
			}
		}
	}
}
