package issuer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Sources of a client in the admin API.
const (
	SourceConfig = "config"
	SourceStore  = "store"
)

// AdminClient is a client as the admin API shows it. ClientSecret and
// SecretID are set only in the answer that generated the secret.
type AdminClient struct {
	ClientID string `json:"client_id"`
	Issuer   string `json:"issuer"`
	// Source is config (read-only: edit the Caddyfile) or store.
	Source                 string        `json:"source"`
	ReadOnly               bool          `json:"read_only,omitempty"`
	Name                   string        `json:"name,omitempty"`
	Disabled               bool          `json:"disabled"`
	Public                 bool          `json:"public,omitempty"`
	SkipConsent            bool          `json:"skip_consent,omitempty"`
	AuthMethods            []string      `json:"auth_methods,omitempty"`
	GrantTypes             []string      `json:"grant_types,omitempty"`
	RedirectURIs           []string      `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string      `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string      `json:"scopes,omitempty"`
	Audience               []string      `json:"audience,omitempty"`
	AccessTokenTTL         int64         `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL        int64         `json:"refresh_token_ttl,omitempty"`
	TokenFormat            string        `json:"token_format,omitempty"`
	AllowIP                []string      `json:"allow_ip,omitempty"`
	DenyIP                 []string      `json:"deny_ip,omitempty"`
	JWKSURI                string        `json:"jwks_uri,omitempty"`
	Secrets                []AdminSecret `json:"secrets,omitempty"`
	CreatedAt              time.Time     `json:"created_at,omitzero"`
	UpdatedAt              time.Time     `json:"updated_at,omitzero"`
	ClientSecret           string        `json:"client_secret,omitempty"`
	SecretID               string        `json:"secret_id,omitempty"`
}

// AdminSecret describes one secret of a client, never its value or hash.
type AdminSecret struct {
	ID          string    `json:"id"`
	Current     bool      `json:"current"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	Expires     time.Time `json:"expires,omitzero"`
}

func secretViews(hs []store.SecretHash) []AdminSecret {
	out := []AdminSecret{}
	for _, h := range hs {
		out = append(out, AdminSecret{ID: h.ID, Current: h.Current, Description: h.Description, CreatedAt: h.CreatedAt, Expires: h.Expires})
	}
	return out
}

func storeClientView(rec *store.Client, iss string) AdminClient {
	return AdminClient{
		ClientID: rec.ID, Issuer: iss, Source: SourceStore, Name: rec.Name, Disabled: rec.Disabled,
		Public: rec.Public, SkipConsent: rec.SkipConsent, AuthMethods: rec.AuthMethods, GrantTypes: rec.GrantTypes,
		RedirectURIs: rec.RedirectURIs, PostLogoutRedirectURIs: rec.PostLogoutRedirectURIs, Scopes: rec.Scopes,
		Audience: rec.Audience, AccessTokenTTL: rec.AccessTokenTTL, RefreshTokenTTL: rec.RefreshTokenTTL,
		TokenFormat: rec.TokenFormat, AllowIP: rec.AllowIP, DenyIP: rec.DenyIP, JWKSURI: rec.JWKSURI,
		Secrets: secretViews(rec.SecretHashes), CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
	}
}

func configClientView(c *client, iss string) AdminClient {
	return AdminClient{
		ClientID: c.id, Issuer: iss, Source: SourceConfig, ReadOnly: true, Disabled: c.disabled,
		AuthMethods: c.authMethods, GrantTypes: c.grantTypes, Scopes: c.scopes, Audience: c.audience,
		AccessTokenTTL: int64(c.ttl / time.Second), TokenFormat: c.format,
	}
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newSecret generates a client secret (256 random bits) and its record.
func newSecret(now time.Time, description string) (plain string, h store.SecretHash, err error) {
	if plain, err = randomString(32); err != nil {
		return "", h, err
	}
	id, err := randomHex(8)
	if err != nil {
		return "", h, err
	}
	// SHA-256 suffices for a secret with 256 random bits; a slow hash
	// would only cost every token request.
	return plain, store.SecretHash{ID: id, Hash: HashSecret(plain), Current: true, CreatedAt: now, Description: description}, nil
}

// ours reports whether a store record belongs to the issuer.
func (i *Issuer) ours(rec *store.Client) bool {
	return rec != nil && (rec.Issuer == "" || rec.Issuer == i.iss)
}

// readOnly refuses a change to a config client.
func (ad *issuerAdmin) readOnly(id string) error {
	if _, ok := ad.iss.clients.config[id]; ok {
		return adminErr(http.StatusConflict, "client %q is defined in the config and is read-only here: edit the Caddyfile and reload", id)
	}
	return nil
}

func (ad *issuerAdmin) serveClients(w http.ResponseWriter, r *http.Request, parts []string) error {
	switch len(parts) {
	case 0:
		switch r.Method {
		case http.MethodGet:
			return ad.listClients(w, r)
		case http.MethodPost:
			return ad.createClient(w, r)
		case http.MethodDelete:
			return ad.deleteClients(w, r, r.URL.Query()["id"])
		}
		return methodNotAllowed(w, "GET, POST, DELETE")
	case 1:
		switch r.Method {
		case http.MethodGet:
			return ad.showClient(w, r, parts[0])
		case http.MethodPatch:
			return ad.updateClient(w, r, parts[0])
		case http.MethodDelete:
			return ad.deleteClients(w, r, parts[:1])
		}
		return methodNotAllowed(w, "GET, PATCH, DELETE")
	}
	if parts[1] != "secrets" || len(parts) > 3 {
		return adminErr(http.StatusNotFound, "no such resource: %s", r.URL.Path)
	}
	if len(parts) == 3 {
		if r.Method != http.MethodDelete {
			return methodNotAllowed(w, "DELETE")
		}
		return ad.deleteSecret(w, r, parts[0], parts[2])
	}
	switch r.Method {
	case http.MethodGet:
		return ad.listSecrets(w, r, parts[0])
	case http.MethodPost:
		return ad.rotateSecret(w, r, parts[0])
	}
	return methodNotAllowed(w, "GET, POST")
}

func (ad *issuerAdmin) listClients(w http.ResponseWriter, r *http.Request) error {
	recs, err := ad.iss.store.Clients(r.Context())
	if err != nil {
		return err
	}
	out := []AdminClient{}
	for _, c := range ad.iss.clients.config {
		out = append(out, configClientView(c, ad.iss.iss))
	}
	for idx := range recs {
		rec := &recs[idx]
		if _, shadowed := ad.iss.clients.config[rec.ID]; shadowed || !ad.iss.ours(rec) {
			continue
		}
		out = append(out, storeClientView(rec, ad.iss.iss))
	}
	slices.SortFunc(out, func(a, b AdminClient) int { return strings.Compare(a.ClientID, b.ClientID) })
	writeAdminJSON(w, http.StatusOK, map[string]any{"clients": out})
	return nil
}

// storeClient reads one of the issuer's store clients (404 otherwise).
func (ad *issuerAdmin) storeClient(r *http.Request, id string) (*store.Client, error) {
	rec, err := ad.iss.store.GetClient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ad.iss.ours(&rec) {
		return nil, adminErr(http.StatusNotFound, "no client %q at issuer %s", id, ad.iss.iss)
	}
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

func (ad *issuerAdmin) showClient(w http.ResponseWriter, r *http.Request, id string) error {
	if c, ok := ad.iss.clients.config[id]; ok {
		writeAdminJSON(w, http.StatusOK, configClientView(c, ad.iss.iss))
		return nil
	}
	rec, err := ad.storeClient(r, id)
	if err != nil {
		return err
	}
	writeAdminJSON(w, http.StatusOK, storeClientView(rec, ad.iss.iss))
	return nil
}

// checkBuilds refuses a record the client registry could not build (the
// same validation as a config client).
func (ad *issuerAdmin) checkBuilds(rec *store.Client) error {
	cc := storeClientConfig(*rec)
	if _, err := ad.iss.clients.build(&cc); err != nil {
		return adminErr(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "client \""+rec.ID+"\": "))
	}
	return nil
}

func (ad *issuerAdmin) createClient(w http.ResponseWriter, r *http.Request) error {
	var in clientInput
	if err := decodeAdminBody(r, &in); err != nil {
		return err
	}
	now := ad.iss.now().UTC()
	rec := &store.Client{Issuer: ad.iss.iss, CreatedAt: now, UpdatedAt: now}
	if err := ad.iss.applyClientInput(rec, &in, true); err != nil {
		return err
	}
	var err error
	if rec.ID, err = randomHex(16); err != nil {
		return err
	}
	if rec.Public && len(rec.AuthMethods) == 0 {
		rec.AuthMethods = []string{AuthNone} // a public client's only method
	}
	var plain string
	if !rec.Public {
		var h store.SecretHash
		if plain, h, err = newSecret(now, ""); err != nil {
			return err
		}
		rec.SecretHashes = []store.SecretHash{h}
	}
	if err := ad.checkBuilds(rec); err != nil {
		return err
	}
	stored, err := ad.iss.store.UpdateClient(r.Context(), rec.ID, func(cur *store.Client) (*store.Client, error) {
		if cur != nil {
			return nil, adminErr(http.StatusConflict, "client id collision, try again")
		}
		return rec, nil
	})
	if err != nil {
		return err
	}
	ad.iss.syncClients(r)
	view := storeClientView(stored, ad.iss.iss)
	if plain != "" {
		view.ClientSecret, view.SecretID = plain, stored.SecretHashes[0].ID
	}
	ad.audit("client.create", stored.ID, map[string]string{"name": stored.Name, "fields": in.fields()})
	writeAdminJSON(w, http.StatusCreated, view)
	return nil
}

func (ad *issuerAdmin) updateClient(w http.ResponseWriter, r *http.Request, id string) error {
	if err := ad.readOnly(id); err != nil {
		return err
	}
	var in clientInput
	if err := decodeAdminBody(r, &in); err != nil {
		return err
	}
	now := ad.iss.now().UTC()
	stored, err := ad.iss.store.UpdateClient(r.Context(), id, func(cur *store.Client) (*store.Client, error) {
		if !ad.iss.ours(cur) {
			return nil, adminErr(http.StatusNotFound, "no client %q at issuer %s", id, ad.iss.iss)
		}
		if err := ad.iss.applyClientInput(cur, &in, false); err != nil {
			return nil, err
		}
		cur.UpdatedAt = now
		if err := ad.checkBuilds(cur); err != nil {
			return nil, err
		}
		return cur, nil
	})
	if err != nil {
		return err
	}
	ad.iss.syncClients(r)
	action := "client.update"
	if in.fields() == "disabled" {
		action = map[bool]string{true: "client.disable", false: "client.enable"}[*in.Disabled]
	}
	ad.audit(action, id, map[string]string{"fields": in.fields()})
	writeAdminJSON(w, http.StatusOK, storeClientView(stored, ad.iss.iss))
	return nil
}

func (ad *issuerAdmin) deleteClients(w http.ResponseWriter, r *http.Request, ids []string) error {
	if len(ids) == 0 {
		return badField("id", "name at least one client (?id=...)")
	}
	if len(ids) > maxBulkDelete {
		return badField("id", "at most %d clients at once", maxBulkDelete)
	}
	// All or nothing: every id must be one of our store clients.
	for _, id := range ids {
		if err := ad.readOnly(id); err != nil {
			return err
		}
		if _, err := ad.storeClient(r, id); err != nil {
			return err
		}
	}
	var deleted []string
	for _, id := range ids {
		if slices.Contains(deleted, id) {
			continue
		}
		if _, err := ad.iss.store.UpdateClient(r.Context(), id, func(cur *store.Client) (*store.Client, error) {
			if cur != nil && !ad.iss.ours(cur) {
				return cur, nil
			}
			return nil, nil
		}); err != nil {
			return err
		}
		deleted = append(deleted, id)
		ad.audit("client.delete", id, nil)
	}
	ad.iss.syncClients(r)
	writeAdminJSON(w, http.StatusOK, map[string]any{"deleted": deleted})
	return nil
}

// syncClients applies a change made here at once (other instances sharing
// the store see it within ClientPollInterval).
func (i *Issuer) syncClients(r *http.Request) {
	if err := i.clients.sync(r.Context(), i.store); err != nil {
		i.logger.Warn("reloading clients after an admin change failed", "error", err.Error())
	}
}
