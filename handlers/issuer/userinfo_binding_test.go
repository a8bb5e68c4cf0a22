package issuer

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A DPoP-bound access token is a sender-constrained token at the issuer's
// own resource server too: userinfo accepts it only with the DPoP scheme
// and a proof of its key for this request (RFC 9449 §7), never as a plain
// Bearer token, so a stolen bound token releases no personal data.
func TestUserinfoRefusesBoundTokenWithoutProof(t *testing.T) {
	e := peopleEnv(t, nil)
	k, other := newDPoPKey(t), newDPoPKey(t)
	code := e.putCode(codeOpts{client: "mobile", scopes: []string{"openid", "read"}})
	f := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {tokensVerifier},
		"redirect_uri": {"http://127.0.0.1/cb"}, "client_id": {"mobile"}}
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("DPoP", k.proof(t, "POST", tokenURL, e.clock.Now(), ""))
	tr := e.serve(r)
	if tr.status != 200 || tr.body["token_type"] != "DPoP" {
		t.Fatalf("DPoP exchange: %d %s", tr.status, tr.raw)
	}
	at := str(tr.body, "access_token")
	const userinfoURL = testIss + "/oauth/userinfo"
	call := func(authz string, proofs ...string) resp {
		req := httptest.NewRequest("GET", "/oauth/userinfo", nil)
		req.Header.Set("Authorization", authz)
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
		return e.serve(req)
	}
	now := e.clock.Now()
	for name, tc := range map[string]struct {
		authz  string
		proofs []string
	}{
		"as Bearer":                 {"Bearer " + at, nil},
		"as Bearer with a proof":    {"Bearer " + at, []string{k.Proof(t, "GET", userinfoURL, at, now, nil)}},
		"DPoP without a proof":      {"DPoP " + at, nil},
		"DPoP with another key":     {"DPoP " + at, []string{other.Proof(t, "GET", userinfoURL, at, now, nil)}},
		"DPoP proof for the token":  {"DPoP " + at, []string{k.Proof(t, "GET", tokenURL, at, now, nil)}},
		"DPoP proof without ath":    {"DPoP " + at, []string{k.Proof(t, "GET", userinfoURL, "", now, nil)}},
		"DPoP proof of other token": {"DPoP " + at, []string{k.Proof(t, "GET", userinfoURL, "other-token", now, nil)}},
	} {
		if got := call(tc.authz, tc.proofs...); got.status != 401 || got.body["sub"] != nil {
			t.Errorf("%s: %d %s", name, got.status, got.raw)
		}
	}
	good := k.Proof(t, "GET", userinfoURL, at, now, nil)
	if got := call("DPoP "+at, good); got.status != 200 || got.body["sub"] != "alice" {
		t.Fatalf("DPoP with a proof of the key: %d %s", got.status, got.raw)
	}
	if got := call("DPoP "+at, good); got.status != 401 {
		t.Fatalf("replayed proof: %d %s", got.status, got.raw)
	}
	// A Bearer token presented with the DPoP scheme is refused too.
	plain := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "access_token")
	if got := call("DPoP "+plain, k.Proof(t, "GET", userinfoURL, plain, now, nil)); got.status != 401 {
		t.Fatalf("unbound token with the DPoP scheme: %d %s", got.status, got.raw)
	}
	if got := call("Bearer " + plain); got.status != 200 {
		t.Fatalf("unbound token as Bearer: %d %s", got.status, got.raw)
	}
}
