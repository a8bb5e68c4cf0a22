package issuer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// KeyInfo describes one signing key for the admin API (never its private
// half).
type KeyInfo struct {
	ID  string `json:"kid"`
	Alg string `json:"alg"`
	// State is pending (published, not signing yet), active (signing),
	// retired (published until its tokens expire) or expired.
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	ActiveAt  time.Time `json:"active_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// KeySchedule is the issuer's signing keys and its rotation schedule.
type KeySchedule struct {
	Keys []KeyInfo `json:"keys"`
	// Rotation is how long a key signs; Lead how long a new key is
	// published before it signs (the JWKS max-age).
	Rotation string `json:"rotation"`
	Lead     string `json:"lead"`
	// NextRotation is when the next scheduled key is published.
	NextRotation time.Time `json:"next_rotation,omitzero"`
}

// ErrRotationPending refuses a rotation while a new key is still waiting
// out its publication lead.
var ErrRotationPending = errors.New("a key rotation is already in progress")

func signingKeyState(k store.SigningKey, now time.Time) string {
	switch {
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	case !k.RetiredAt.IsZero():
		return "retired"
	case k.ActiveAt.After(now):
		return "pending"
	}
	return "active"
}

// KeySchedule lists the issuer's signing keys, oldest first.
func (i *Issuer) KeySchedule(ctx context.Context) (*KeySchedule, error) {
	if i.keys == nil {
		return nil, errors.New("issuer: not open")
	}
	recs, err := i.store.SigningKeys(ctx, i.iss)
	if err != nil {
		return nil, err
	}
	now := i.now()
	out := &KeySchedule{Keys: []KeyInfo{}, Rotation: i.rotation.String(), Lead: i.keys.lead.String()}
	var newest time.Time
	for _, k := range recs {
		st := signingKeyState(k, now)
		out.Keys = append(out.Keys, KeyInfo{ID: k.ID, Alg: k.Alg, State: st, CreatedAt: k.CreatedAt,
			ActiveAt: k.ActiveAt, RetiredAt: k.RetiredAt, ExpiresAt: k.ExpiresAt})
		if (st == "active" || st == "pending") && k.ActiveAt.After(newest) {
			newest = k.ActiveAt
		}
	}
	if !newest.IsZero() {
		out.NextRotation = newest.Add(i.rotation - i.keys.lead)
		if out.NextRotation.Before(now) {
			out.NextRotation = now
		}
	}
	return out, nil
}

// RotateKeysNow starts a key rotation at once: a new key is published now
// and signs after the publication lead (every cache that honours the JWKS
// max-age has seen it by then); the current key then retires as in a
// scheduled rotation. A second call while the new key is pending fails with
// ErrRotationPending (wrapped, with when it signs). It returns the new key.
// The issuer's other key sets (per-client signing_alg, the RS256 ID-token
// keys) rotate with it, so a rotation leaves no old key signing anything.
func (i *Issuer) RotateKeysNow(ctx context.Context) (*KeyInfo, error) {
	if i.keys == nil {
		return nil, errors.New("issuer: not open")
	}
	k, err := i.keys.rotateNow(ctx)
	if err != nil {
		return nil, err
	}
	i.logger.Info("signing key rotation started", "kid", k.ID, "signs_at", k.ActiveAt)
	for _, m := range i.otherKeyManagers() {
		o, err := m.rotateNow(ctx)
		if errors.Is(err, ErrRotationPending) {
			continue // already rotating on its own schedule
		}
		if err != nil {
			return nil, fmt.Errorf("%s keys: %w", strings.TrimPrefix(m.issuer, i.iss), err)
		}
		i.logger.Info("signing key rotation started", "kid", o.ID, "alg", o.Alg, "keys", strings.TrimPrefix(m.issuer, i.iss), "signs_at", o.ActiveAt)
	}
	return k, nil
}

// otherKeyManagers are the issuer's key sets besides its signing keys.
func (i *Issuer) otherKeyManagers() []*keyManager {
	var out []*keyManager
	for _, alg := range i.clientAlgs {
		if m := i.algKeys[alg]; m != nil {
			out = append(out, m)
		}
	}
	if i.idKeys != nil {
		out = append(out, i.idKeys)
	}
	return out
}

// rotateNow publishes a new key of m's set that signs after the lead.
func (m *keyManager) rotateNow(ctx context.Context) (*KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	fresh, err := m.generate(now)
	if err != nil {
		return nil, err
	}
	fresh.ActiveAt = now.Add(m.lead)
	recs, err := m.store.UpdateSigningKeys(ctx, m.issuer, func(cur []store.SigningKey) ([]store.SigningKey, error) {
		for _, k := range cur {
			if signingKeyState(k, now) == "pending" {
				return nil, fmt.Errorf("%w: key %s was published at %s and signs from %s (in %s); start another rotation after that",
					ErrRotationPending, k.ID, k.CreatedAt.UTC().Format(time.RFC3339), k.ActiveAt.UTC().Format(time.RFC3339),
					k.ActiveAt.Sub(now).Round(time.Second))
			}
		}
		return append(cur, *fresh), nil
	})
	if err != nil {
		return nil, err
	}
	if err := m.install(recs, now); err != nil {
		return nil, err
	}
	return &KeyInfo{ID: fresh.ID, Alg: fresh.Alg, State: "pending", CreatedAt: fresh.CreatedAt, ActiveAt: fresh.ActiveAt}, nil
}

// pickUpStoredKeys refreshes the key snapshot when the store's keys (or
// their schedule) changed since it last looked: a `keys rotate --now` on
// another instance sharing the store is published here within
// ClientPollInterval rather than at the next keyRecheck. A key this
// instance cannot use does not make it refresh every time.
func (m *keyManager) pickUpStoredKeys(ctx context.Context) error {
	recs, err := m.store.SigningKeys(ctx, m.issuer)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s|%d|%d|%d;", r.ID, r.ActiveAt.UnixNano(), r.RetiredAt.UnixNano(), r.ExpiresAt.UnixNano())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || b.String() == m.storedPrint {
		return nil
	}
	m.storedPrint = b.String() // the first look refreshes once
	return m.refreshLocked(ctx)
}
