package issuer

import (
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// storeClientConfig is the ClientConfig of a store client: what the record
// does not say takes the issuer's defaults.
func storeClientConfig(rec store.Client) ClientConfig {
	cc := ClientConfig{
		ID: rec.ID, Name: rec.Name, Scopes: rec.Scopes, Audience: rec.Audience,
		AuthMethods: rec.AuthMethods, GrantTypes: rec.GrantTypes, TokenFormat: rec.TokenFormat,
		AccessTokenTTL: time.Duration(rec.AccessTokenTTL) * time.Second,
		AllowIP:        rec.AllowIP, DenyIP: rec.DenyIP, Disabled: rec.Disabled,
		PeopleConfig: PeopleConfig{
			Public: rec.Public, RedirectURIs: rec.RedirectURIs, PostLogoutRedirectURIs: rec.PostLogoutRedirectURIs,
			SkipConsent: rec.SkipConsent, RefreshTokenTTL: time.Duration(rec.RefreshTokenTTL) * time.Second,
		},
		StrongAuth: StrongAuth{JWKSURI: rec.JWKSURI},
	}
	for _, h := range rec.SecretHashes {
		cc.Secrets = append(cc.Secrets, SecretConfig{Hash: h.Hash, Expires: h.Expires})
	}
	return cc
}
