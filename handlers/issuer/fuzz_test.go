package issuer

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenRequest throws arbitrary bodies, content types and Authorization
// headers at the token endpoint: it must never panic and must always answer
// either a success or a well-formed RFC 6749 error.
func FuzzTokenRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials", "Basic YXBwOmFwcC1zZWNyZXQ=")
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=app&client_secret=app-secret&scope=read", "")
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=x", "Basic YXBwOmFwcC1zZWNyZXQ=")
	f.Add("application/x-www-form-urlencoded", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token", "Basic YXBwOmFwcC1zZWNyZXQ=")
	f.Add("text/plain", "%%%", "Bearer x")
	f.Add("application/x-www-form-urlencoded; charset=latin1", "a=b;c=d", "Basic !!!")
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, ct, body, authz string) {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		if !e.iss.Handle(w, r, e.ip) {
			t.Fatal("token endpoint not handled")
		}
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", w.Header())
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("not JSON: %q", w.Body.String())
		}
		switch w.Code {
		case 200:
			if s, _ := out["access_token"].(string); s == "" || out["token_type"] != "Bearer" {
				t.Fatalf("bad success %v", out)
			}
		case 429, 503:
			// The issuance rate limit (DefaultRateLimit is reached in a
			// long run) and the slow-hash budget: well-formed, retryable.
			code, _ := out["error"].(string)
			if (w.Code == 429) != (code == errSlowDown) || (w.Code == 503) != (code == errTemporarilyUnavailable) || w.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d: %s %v", w.Code, w.Body.String(), w.Header())
			}
		case 400, 401, 413:
			code, _ := out["error"].(string)
			switch code {
			case errInvalidRequest, errInvalidClient, errInvalidGrant, errInvalidScope, errUnauthorizedClient, errUnsupportedGrantType, errInvalidTarget:
			default:
				t.Fatalf("unknown error code %q", code)
			}
			if (w.Code == 401) != (code == errInvalidClient) {
				t.Fatalf("status %d for %s", w.Code, code)
			}
			if d, ok := out["error_description"].(string); ok && sanitizeDescription(d) != d {
				t.Fatalf("description has forbidden characters: %q", d)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
