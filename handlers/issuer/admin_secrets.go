package issuer

import (
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/caddy-authgate/store"
)

// DefaultRotatedSecretTTL is how long a secret kept at a rotation works
// when the rotation names no expiry.
const DefaultRotatedSecretTTL = 7 * 24 * time.Hour

// rotateInput is the body of a secret rotation.
type rotateInput struct {
	// KeepCurrent keeps the current secret working (hashed, no longer
	// shown) until Expires.
	KeepCurrent bool   `json:"keep_current"`
	Expires     string `json:"expires"`
	Description string `json:"description"`
}

func validDescription(s string) bool {
	if len(s) > maxDescriptionLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (ad *issuerAdmin) listSecrets(w http.ResponseWriter, r *http.Request, id string) error {
	if err := ad.readOnly(id); err != nil {
		return err
	}
	rec, err := ad.storeClient(r, id)
	if err != nil {
		return err
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"client_id": id, "secrets": secretViews(rec.SecretHashes)})
	return nil
}

// rotateSecret generates a new current secret. The old current one is
// dropped, or kept (until expires, default the issuer's rotated-secret
// lifetime) with keep_current. Expired kept secrets are pruned.
func (ad *issuerAdmin) rotateSecret(w http.ResponseWriter, r *http.Request, id string) error {
	if err := ad.readOnly(id); err != nil {
		return err
	}
	var in rotateInput
	if err := decodeAdminBody(r, &in); err != nil {
		return err
	}
	now := ad.iss.now().UTC()
	var expires time.Time
	if in.Expires != "" {
		if !in.KeepCurrent {
			return badField("expires", "only with keep_current (without it the current secret stops at once)")
		}
		t, err := time.Parse(time.RFC3339, in.Expires)
		if err != nil {
			return badField("expires", "must be an RFC 3339 time such as 2026-12-31T23:59:59Z")
		}
		if !t.After(now) {
			return badField("expires", "%s is not in the future", in.Expires)
		}
		if t.Sub(now) > MaxTTL {
			return badField("expires", "at most 2147483647s from now")
		}
		expires = t.UTC()
	}
	if in.Description != "" && !in.KeepCurrent {
		return badField("description", "only with keep_current (it describes the kept secret)")
	}
	if !validDescription(in.Description) {
		return badField("description", "at most 256 characters, no control characters")
	}
	if in.KeepCurrent && expires.IsZero() {
		ttl := ad.iss.rotatedSecretTTL
		if ttl <= 0 {
			ttl = DefaultRotatedSecretTTL
		}
		expires = now.Add(ttl)
	}
	plain, fresh, err := newSecret(now, "")
	if err != nil {
		return err
	}
	stored, err := ad.iss.store.UpdateClient(r.Context(), id, func(cur *store.Client) (*store.Client, error) {
		if !ad.iss.ours(cur) {
			return nil, adminErr(http.StatusNotFound, "no client %q at issuer %s", id, ad.iss.iss)
		}
		if cur.Public {
			return nil, adminErr(http.StatusConflict, "client %q is public: it has no secret", id)
		}
		var next []store.SecretHash
		kept := 0
		for _, h := range cur.SecretHashes {
			if !h.Expires.IsZero() && !now.Before(h.Expires) {
				continue // expired: pruned
			}
			if h.Current || h.ID == "" {
				// The current secret (or a record's unnamed one).
				if !in.KeepCurrent {
					continue
				}
				h.Current = false
				if h.ID == "" {
					h.ID, _ = randomHex(8)
				}
				if h.Expires.IsZero() || expires.Before(h.Expires) {
					h.Expires = expires
				}
				if in.Description != "" {
					h.Description = in.Description
				}
			}
			kept++
			next = append(next, h)
		}
		if kept > maxKeptSecrets {
			return nil, adminErr(http.StatusConflict, "client %q would keep %d rotated secrets (at most %d): delete some first", id, kept, maxKeptSecrets)
		}
		cur.SecretHashes = append(next, fresh)
		cur.UpdatedAt = now
		return cur, nil
	})
	if err != nil {
		return err
	}
	ad.iss.syncClients(r)
	detail := map[string]string{"secret_id": fresh.ID, "keep_current": boolString(in.KeepCurrent)}
	if in.KeepCurrent {
		detail["kept_until"] = expires.Format(time.RFC3339)
	}
	ad.audit("client.secret.rotate", id, detail)
	view := storeClientView(stored, ad.iss.iss)
	view.ClientSecret, view.SecretID = plain, fresh.ID
	writeAdminJSON(w, http.StatusOK, view)
	return nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (ad *issuerAdmin) deleteSecret(w http.ResponseWriter, r *http.Request, id, secretID string) error {
	if err := ad.readOnly(id); err != nil {
		return err
	}
	stored, err := ad.iss.store.UpdateClient(r.Context(), id, func(cur *store.Client) (*store.Client, error) {
		if !ad.iss.ours(cur) {
			return nil, adminErr(http.StatusNotFound, "no client %q at issuer %s", id, ad.iss.iss)
		}
		for idx, h := range cur.SecretHashes {
			if h.ID != secretID {
				continue
			}
			if h.Current {
				return nil, adminErr(http.StatusConflict, "secret %q is the current secret of client %q: rotate it first (or disable or delete the client)", secretID, id)
			}
			cur.SecretHashes = append(cur.SecretHashes[:idx:idx], cur.SecretHashes[idx+1:]...)
			cur.UpdatedAt = ad.iss.now().UTC()
			return cur, nil
		}
		return nil, adminErr(http.StatusNotFound, "client %q has no secret %q", id, secretID)
	})
	if err != nil {
		return err
	}
	ad.iss.syncClients(r)
	ad.audit("client.secret.delete", id, map[string]string{"secret_id": secretID})
	writeAdminJSON(w, http.StatusOK, map[string]any{"client_id": id, "secrets": secretViews(stored.SecretHashes)})
	return nil
}
