package issuer

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// revocationInput names exactly one thing to revoke.
type revocationInput struct {
	Token    string `json:"token"`
	JTI      string `json:"jti"`
	ClientID string `json:"client_id"`
	User     string `json:"user"`
}

func (ad *issuerAdmin) serveRevocation(w http.ResponseWriter, r *http.Request) error {
	var in revocationInput
	if err := decodeAdminBody(r, &in); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{in.Token, in.JTI, in.ClientID, in.User} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return adminErr(http.StatusBadRequest, "name exactly one of token, jti, client_id or user")
	}
	ctx := r.Context()
	iss := ad.iss
	switch {
	case in.Token != "":
		info, err := iss.resolveWithin(ctx, in.Token, token.MaxLeeway)
		if errors.Is(err, errNotOurs) {
			return badField("token", "not a valid, unexpired token of issuer %s", iss.iss)
		}
		if err != nil {
			return err
		}
		if err := iss.revoke(ctx, info); err != nil {
			return err
		}
		ad.audit("token.revoke", "jti:"+info.jti, map[string]string{"client_id": info.clientID})
		writeAdminJSON(w, http.StatusOK, map[string]any{"revoked": "token", "jti": info.jti, "client_id": info.clientID})
	case in.JTI != "":
		if len(in.JTI) > 256 {
			return badField("jti", "longer than 256 characters")
		}
		// The token's exp is unknown: the revocation outlives the longest
		// lifetime any token of this issuer can have now.
		until := iss.now().Add(iss.longestTTL() + token.MaxLeeway)
		if err := iss.store.Revoke(ctx, in.JTI, until); err != nil {
			return err
		}
		iss.revoked.add(in.JTI, until.Unix())
		ad.audit("token.revoke", "jti:"+in.JTI, nil)
		writeAdminJSON(w, http.StatusOK, map[string]any{"revoked": "jti", "jti": in.JTI, "until": until.UTC()})
	case in.ClientID != "":
		if _, known := iss.clients.load().byID[in.ClientID]; !known {
			if _, err := ad.storeClient(r, in.ClientID); err != nil {
				return err
			}
		}
		at, err := iss.RevokeAllOf(ctx, store.NotBeforeClient, in.ClientID)
		if err != nil {
			return err
		}
		ad.audit("client.revoke", in.ClientID, map[string]string{"not_before": at.UTC().Format(time.RFC3339)})
		writeAdminJSON(w, http.StatusOK, map[string]any{"revoked": "client", "client_id": in.ClientID, "not_before": at.UTC()})
	default:
		if err := checkUserName(in.User); err != nil {
			return badField("user", "%v", strings.TrimPrefix(err.Error(), "user name "))
		}
		at, err := iss.RevokeAllOf(ctx, store.NotBeforeUser, in.User)
		if err != nil {
			return err
		}
		ad.audit("user.revoke", in.User, map[string]string{"not_before": at.UTC().Format(time.RFC3339)})
		writeAdminJSON(w, http.StatusOK, map[string]any{"revoked": "user", "user": in.User, "not_before": at.UTC()})
	}
	return nil
}

// longestTTL is the longest access token lifetime of any client now.
func (i *Issuer) longestTTL() time.Duration {
	d := i.maxTTL
	for _, c := range i.clients.load().byID {
		if c.ttl > d {
			d = c.ttl
		}
	}
	return d
}

func (ad *issuerAdmin) serveKeys(w http.ResponseWriter, r *http.Request, parts []string) error {
	switch {
	case len(parts) == 0:
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, "GET")
		}
		ks, err := ad.iss.KeySchedule(r.Context())
		if err != nil {
			return err
		}
		writeAdminJSON(w, http.StatusOK, ks)
		return nil
	case len(parts) == 1 && parts[0] == "rotate":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		var in struct {
			Now bool `json:"now"`
		}
		if err := decodeAdminBody(r, &in); err != nil {
			return err
		}
		if !in.Now {
			return badField("now", "must be true: keys rotate on their schedule (GET keys shows it); now starts a rotation at once")
		}
		k, err := ad.iss.RotateKeysNow(r.Context())
		if errors.Is(err, ErrRotationPending) {
			return adminErr(http.StatusConflict, "%v", err)
		}
		if err != nil {
			return err
		}
		ad.audit("keys.rotate", "kid:"+k.ID, map[string]string{"signs_at": k.ActiveAt.UTC().Format(time.RFC3339)})
		writeAdminJSON(w, http.StatusOK, map[string]any{"key": k})
		return nil
	}
	return adminErr(http.StatusNotFound, "no such resource: %s", r.URL.Path)
}
