package issuer

import (
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// storeClientConfig is the ClientConfig of a store client: what the record
// does not say takes the issuer's defaults. The record's fields for the
// browser flows and key-based client authentication (redirect URIs,
// post-logout redirect URIs, public, skip_consent, refresh_token_ttl,
// jwks_uri) are kept in the store and shown by the admin API; they take
// effect once ClientConfig has them.
func storeClientConfig(rec store.Client) ClientConfig {
	cc := ClientConfig{
		ID: rec.ID, Name: rec.Name, Scopes: rec.Scopes, Audience: rec.Audience,
		AuthMethods: rec.AuthMethods, GrantTypes: rec.GrantTypes, TokenFormat: rec.TokenFormat,
		AccessTokenTTL: time.Duration(rec.AccessTokenTTL) * time.Second,
		AllowIP:        rec.AllowIP, DenyIP: rec.DenyIP, Disabled: rec.Disabled,
	}
	for _, h := range rec.SecretHashes {
		cc.Secrets = append(cc.Secrets, SecretConfig{Hash: h.Hash, Expires: h.Expires})
	}
	return cc
}
