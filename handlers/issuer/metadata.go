package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/authgate/caddy-authgate/token"
)

// buildMetadata encodes the RFC 8414 document (also served as the OpenID
// configuration) for these clients: grants and authentication methods come
// from their registries (grant.go, client_auth.go).
func (i *Issuer) buildMetadata(clients map[string]*client) ([]byte, error) {
	// Endpoints live at the root of the issuer's origin (Handle routes on
	// the path alone), whatever the issuer's path or trailing slash.
	u, err := url.Parse(i.iss)
	if err != nil {
		return nil, err
	}
	base := u.Scheme + "://" + u.Host
	auth := supportedAuthMethods()
	var scopes []string
	grants := supportedGrantTypes(clients)
	for _, c := range clients {
		for _, s := range c.scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	slices.Sort(scopes)
	doc := map[string]any{
		"issuer":                                        i.iss,
		"token_endpoint":                                base + i.prefix + "/token",
		"introspection_endpoint":                        base + i.prefix + "/introspect",
		"revocation_endpoint":                           base + i.prefix + "/revoke",
		"grant_types_supported":                         grants,
		"token_endpoint_auth_methods_supported":         auth,
		"introspection_endpoint_auth_methods_supported": auth,
		"revocation_endpoint_auth_methods_supported":    auth,
		"response_types_supported":                      []string{},
		// OpenID Discovery §3 requires subject_types_supported; "sub" is
		// the client id for every audience, i.e. "public".
		"subject_types_supported": []string{"public"},
	}
	// id_token_signing_alg_values_supported (also REQUIRED by OpenID
	// Discovery) is listed only once ID tokens are issued: listing it now
	// would tell relying parties to expect ID tokens signed so. Strict OIDC
	// clients (go-oidc) accept the document without it; their access-token
	// verifiers then name the algorithm themselves.
	if !token.IsHMAC(i.alg) {
		doc["jwks_uri"] = base + i.jwksPath()
	}
	if len(scopes) > 0 {
		doc["scopes_supported"] = scopes
	}
	i.peopleMetadata(doc, base, clients)
	return json.Marshal(doc)
}

func (i *Issuer) serveMetadata(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(i.keys.lead.Seconds())))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(i.clients.load().metadata)
	}
}

// serveJWKS publishes the asymmetric keys (pending, active and retired but
// not yet expired). Its max-age equals the publication lead of new keys.
func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	doc := i.jwksDoc(context.WithoutCancel(r.Context()))
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(i.keys.lead.Seconds())))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc)
	}
}
