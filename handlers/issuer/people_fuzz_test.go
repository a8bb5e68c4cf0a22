package issuer

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzPeopleGrants throws arbitrary authorization_code and refresh_token
// parameters (and client ids) at the token endpoint. "@code" stands for a
// fresh valid code, "@rt" for the live refresh token, "@v" for the code's
// verifier. Whatever the input: a well-formed answer, and never a success
// without the code's verifier and redirect_uri, or with a spent refresh
// token.
func FuzzPeopleGrants(f *testing.F) {
	f.Add("authorization_code", "@code", "@v", "https://app.example/cb", "", "", "web")
	f.Add("authorization_code", "@code", "@v", "https://app.example/cb", "", "openid", "web")
	f.Add("authorization_code", "@code", "plain", "https://app.example/cb", "", "", "web")
	f.Add("authorization_code", "@code", "@v", "http://127.0.0.1/cb", "", "", "mobile")
	f.Add("refresh_token", "", "", "", "@rt", "read", "web")
	f.Add("refresh_token", "", "", "", "@rt", "read write admin", "web")
	f.Add("refresh_token", "", "", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "mobile")
	f.Add("implicit", "x", "y", "z", "w", "%%", "nobody")
	e := peopleEnv(f, nil)
	live := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "refresh_token")
	var spent []string
	f.Fuzz(func(t *testing.T, grant, code, verifier, redirect, rt, scope, client string) {
		e.t = t
		form := url.Values{"grant_type": {grant}}
		validCode := code == "@code"
		if validCode {
			code = e.putCode(codeOpts{client: client})
		}
		goodVerifier := verifier == "@v"
		if goodVerifier {
			verifier = tokensVerifier
		}
		presented := rt
		if rt == "@rt" {
			presented = live
		}
		for k, v := range map[string]string{"code": code, "code_verifier": verifier, "redirect_uri": redirect, "refresh_token": presented, "scope": scope} {
			if v != "" {
				form.Set(k, v)
			}
		}
		var r resp
		if client == "web" {
			r = e.do("POST", "/oauth/token", form, "web", "web-secret")
		} else {
			form.Set("client_id", client)
			r = e.do("POST", "/oauth/token", form, "", "")
		}
		if r.header.Get("Cache-Control") != "no-store" || r.body == nil {
			t.Fatalf("answer %d %q %v", r.status, r.raw, r.header)
		}
		switch r.status {
		case 200:
			if str(r.body, "access_token") == "" {
				t.Fatalf("success without a token: %s", r.raw)
			}
			switch grant {
			case GrantAuthorizationCode:
				want := map[string]string{"web": "https://app.example/cb", "mobile": "http://127.0.0.1/cb"}[client]
				if !validCode || !goodVerifier || redirect != want {
					t.Fatalf("code exchange succeeded without the code, its verifier or redirect_uri: %q %q %q", code, verifier, redirect)
				}
			case GrantRefreshToken:
				for _, s := range spent {
					if s == presented {
						t.Fatal("a spent refresh token refreshed")
					}
				}
				if client == "web" && presented == live {
					spent = append(spent, live)
					live = str(r.body, "refresh_token")
				}
			default:
				t.Fatalf("grant %q succeeded", grant)
			}
		case 400, 401, 429, 503:
			code, _ := r.body["error"].(string)
			switch code {
			case errInvalidRequest, errInvalidClient, errInvalidGrant, errInvalidScope, errUnauthorizedClient, errUnsupportedGrantType, errSlowDown, errTemporarilyUnavailable:
			default:
				t.Fatalf("error code %q", code)
			}
			if d, ok := r.body["error_description"].(string); ok && sanitizeDescription(d) != d {
				t.Fatalf("description has forbidden characters: %q", d)
			}
			if grant == GrantRefreshToken && presented == live && client == "web" && code == errInvalidGrant {
				// A reuse or a family revoked: get a new family.
				live = str(e.mustExchange("web", e.putCode(codeOpts{})).body, "refresh_token")
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
}

// FuzzUserinfo: arbitrary Authorization headers at the userinfo endpoint
// get a 200 only for a valid user's token, else an RFC 6750 answer.
func FuzzUserinfo(f *testing.F) {
	e := peopleEnv(f, nil)
	at := str(e.mustExchange("web", e.putCode(codeOpts{})).body, "access_token")
	f.Add("Bearer @at")
	f.Add("Bearer ")
	f.Add("bearer a.b.c")
	f.Add("Basic Zm9vOmJhcg==")
	f.Add("Bearer " + strings.Repeat("A", 43))
	f.Add("DPoP @at")
	f.Add("dpop  @at")
	f.Fuzz(func(t *testing.T, authz string) {
		e.t = t
		authz = strings.ReplaceAll(authz, "@at", at)
		req := httptest.NewRequest("GET", "/oauth/userinfo", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		e.iss.Handle(w, req, e.ip)
		switch w.Code {
		case 200:
			var out map[string]any
			if json.Unmarshal(w.Body.Bytes(), &out) != nil || out["sub"] != "alice" || !strings.Contains(authz, at) {
				t.Fatalf("200 for %q: %s", authz, w.Body.String())
			}
		case 400, 401, 403:
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer realm=") {
				t.Fatalf("%d without a Bearer challenge", w.Code)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no no-store")
		}
	})
}
