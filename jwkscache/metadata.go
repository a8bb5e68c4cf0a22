package jwkscache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ProviderMetadata are the OpenID provider metadata a relying party (the
// gateway's browser sign-in) needs.
type ProviderMetadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint    string   `json:"end_session_endpoint,omitempty"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported,omitempty"`
}

// ProviderMetadata fetches issuer's OpenID Connect discovery document with
// the cache's client (redirect policy, size and time limits of every fetch)
// and checks it: the issuer exactly as configured (mix-up defence), and
// authorization, token, userinfo and end-session endpoints that are
// absolute URLs, https unless the issuer itself is http or they are on
// loopback. The caller caches the result.
func (c *Cache) ProviderMetadata(ctx context.Context, issuer string) (ProviderMetadata, error) {
	if err := CheckURL(issuer); err != nil {
		return ProviderMetadata{}, fmt.Errorf("issuer %w", err)
	}
	u := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	resp, err := get(ctx, c.client, u, "application/json", Options{}.WithDefaults(), validators{})
	if err != nil {
		return ProviderMetadata{}, fmt.Errorf("discovery %s: %w", u, err)
	}
	var m ProviderMetadata
	if err := json.Unmarshal(resp.body, &m); err != nil {
		return ProviderMetadata{}, fmt.Errorf("discovery %s: invalid JSON: %w", u, err)
	}
	if m.Issuer != issuer {
		return ProviderMetadata{}, fmt.Errorf("discovery %s: issuer mismatch: metadata says %q, configured %q", u, m.Issuer, issuer)
	}
	cleartextOK := strings.HasPrefix(strings.ToLower(issuer), "http://")
	for name, v := range map[string]string{
		"authorization_endpoint": m.AuthorizationEndpoint, "token_endpoint": m.TokenEndpoint,
		"userinfo_endpoint": m.UserinfoEndpoint, "end_session_endpoint": m.EndSessionEndpoint,
	} {
		if v == "" {
			if name == "authorization_endpoint" || name == "token_endpoint" {
				return ProviderMetadata{}, fmt.Errorf("discovery %s: no %s", u, name)
			}
			continue
		}
		if err := CheckURL(v); err != nil {
			return ProviderMetadata{}, fmt.Errorf("discovery %s: %s: %w", u, name, err)
		}
		pu, _ := url.Parse(v)
		if pu.Scheme == "http" && !cleartextOK && !isLoopback(pu.Hostname()) {
			return ProviderMetadata{}, fmt.Errorf("discovery %s: %s %q must use https", u, name, v)
		}
	}
	if len(m.CodeChallengeMethods) > 0 && !contains(m.CodeChallengeMethods, "S256") {
		return ProviderMetadata{}, errors.New("provider does not support PKCE S256")
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
