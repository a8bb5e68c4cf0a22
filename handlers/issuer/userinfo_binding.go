package issuer

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/authgate/caddy-authgate/token"
)

// userinfoCredential splits the Authorization header of a userinfo request
// into the token and whether it came with the DPoP scheme (RFC 9449 §7.1).
func userinfoCredential(v string) (tok string, dpop, ok bool) {
	scheme, tok, found := strings.Cut(v, " ")
	switch {
	case !found || tok == "":
		return "", false, false
	case strings.EqualFold(scheme, "Bearer"):
		return tok, false, true
	case strings.EqualFold(scheme, schemeDPoP):
		return tok, true, true
	}
	return "", false, false
}

const schemeDPoP = "DPoP"

// checkUserinfoBinding holds a sender-constrained token to its sender at
// userinfo, as the gateway does (RFC 8705 §3, RFC 9449 §7): a certificate-
// bound token only from a connection with that certificate, a DPoP-bound
// one only with the DPoP scheme and a proof of its key for this request and
// this token; a Bearer token is never accepted with the DPoP scheme. It
// returns "" or why the token is refused.
func (i *Issuer) checkUserinfoBinding(r *http.Request, tok string, dpop bool, cnf *token.Confirmation) string {
	if cnf.Unknown() {
		return "the access token is bound by an unknown confirmation method"
	}
	if cnf != nil && cnf.X5TS256 != "" {
		pc := token.ClientCertificate(r)
		if pc == nil || subtle.ConstantTimeCompare([]byte(token.CertThumbprint(pc.Cert.Raw)), []byte(cnf.X5TS256)) != 1 {
			return "the access token is bound to another client certificate"
		}
	}
	jkt := ""
	if cnf != nil {
		jkt = cnf.JKT
	}
	switch {
	case jkt == "" && dpop:
		return "the access token is not DPoP-bound"
	case jkt == "":
		return ""
	case !dpop:
		return "a DPoP-bound access token needs the DPoP scheme"
	}
	proofs := r.Header["Dpop"]
	if len(proofs) != 1 {
		return "the request must carry exactly one DPoP proof"
	}
	v := token.DPoPVerifier{Algorithms: i.dpop.algs, Replay: i.store, Scope: "issuer:" + i.iss, Keys: i.dpop.keys}
	if _, err := v.Verify(r.Context(), proofs[0], token.DPoPRequest{
		Method: r.Method, URL: i.origin + i.prefix + "/userinfo", AccessToken: tok, JKT: jkt, Now: i.now(),
	}); err != nil {
		return "the DPoP proof is invalid"
	}
	return ""
}
