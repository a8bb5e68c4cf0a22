package issuer

import (
	"slices"

	"github.com/authgate/caddy-authgate/token"
)

// peopleMetadata adds the sign-in members (OpenID Discovery §3, RFC 8414
// §2, RFC 9207 §3) once some client lets people sign in (the
// authorization_code or implicit grant).
func (i *Issuer) peopleMetadata(doc map[string]any, base string, clients map[string]*client) {
	var code, implicit bool
	algs := []string{token.RS256}
	for _, c := range clients {
		code = code || c.allowsGrant(GrantAuthorizationCode)
		implicit = implicit || c.allowsGrant(GrantImplicit)
		if c.allowsGrant(GrantAuthorizationCode) && c.idTokenAlg != "" && !slices.Contains(algs, c.idTokenAlg) {
			algs = append(algs, c.idTokenAlg)
		}
	}
	if !code && !implicit {
		return
	}
	var responseTypes []string
	if code {
		responseTypes = append(responseTypes, "code")
	}
	if implicit {
		responseTypes = append(responseTypes, "token")
	}
	claims := slices.Clone(idTokenClaimNames)
	for _, scope := range []string{"profile", "email", "address", "phone"} {
		claims = append(claims, scopeClaims[scope]...)
	}
	doc["authorization_endpoint"] = base + i.prefix + "/authorize"
	doc["userinfo_endpoint"] = base + i.prefix + "/userinfo"
	doc["end_session_endpoint"] = base + i.prefix + "/logout"
	doc["response_types_supported"] = responseTypes
	doc["response_modes_supported"] = []string{"query", "fragment"}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	doc["id_token_signing_alg_values_supported"] = algs
	doc["claims_supported"] = claims
	doc["authorization_response_iss_parameter_supported"] = true
}
