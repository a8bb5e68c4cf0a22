package token

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseIntrospection(t *testing.T) {
	big := `{"active":true,"exp":9,"x":"` + strings.Repeat("a", MaxIntrospectionBytes) + `"}`
	for _, tc := range []struct {
		name, body string
		reason     Reason // "" means accepted
	}{
		{"active", `{"active":true,"exp":2000000000,"sub":"u","scope":"a b","aud":["api"],"client_id":"c","iss":"https://idp","token_type":"Bearer"}`, ""},
		{"active minimal", `{"active":true,"exp":1}`, ""},
		{"access_token type", `{"active":true,"exp":1,"token_type":"urn:ietf:params:oauth:token-type:access_token"}`, ""},
		{"inactive", `{"active":false}`, ReasonInactive},
		{"inactive says more", `{"active":false,"sub":"admin","exp":9}`, ReasonInactive},
		{"active string", `{"active":"true","exp":1}`, ReasonMalformed},
		{"active number", `{"active":1,"exp":1}`, ReasonMalformed},
		{"active null", `{"active":null,"exp":1}`, ReasonMalformed},
		{"no active", `{"exp":1,"sub":"u"}`, ReasonMalformed},
		{"duplicate active", `{"active":false,"active":true,"exp":1}`, ReasonMalformed},
		{"escaped duplicate active", `{"active":false,"\u0061ctive":true,"exp":1}`, ReasonMalformed},
		{"duplicate nested", `{"active":true,"exp":1,"r":{"a":1,"a":2}}`, ReasonMalformed},
		{"no exp", `{"active":true,"sub":"u"}`, ReasonClaims},
		{"exp string", `{"active":true,"exp":"1"}`, ReasonClaims},
		{"sub number", `{"active":true,"exp":1,"sub":5}`, ReasonClaims},
		{"refresh token", `{"active":true,"exp":1,"token_type":"refresh_token"}`, ReasonType},
		{"token_type number", `{"active":true,"exp":1,"token_type":1}`, ReasonMalformed},
		{"sender constrained", `{"active":true,"exp":1,"cnf":{"jkt":"x"}}`, ReasonType},
		{"array", `[{"active":true,"exp":1}]`, ReasonMalformed},
		{"two objects", `{"active":true,"exp":1}{"active":true}`, ReasonMalformed},
		{"trailing garbage", `{"active":true,"exp":1} x`, ReasonMalformed},
		{"invalid utf-8", "{\"active\":true,\"exp\":1,\"sub\":\"\xff\"}", ReasonMalformed},
		{"empty", ``, ReasonMalformed},
		{"deep", `{"active":true,"exp":1,"x":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`, ReasonMalformed},
		{"oversized", big, ReasonOversized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseIntrospection([]byte(tc.body))
			if tc.reason == "" {
				if err != nil || c == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var te *Error
			if !errors.As(err, &te) || te.Reason != tc.reason || c != nil {
				t.Fatalf("got (%v, %v), want reason %s", c, err, tc.reason)
			}
			if IsInactive(err) != (tc.reason == ReasonInactive) {
				t.Fatalf("IsInactive = %v", IsInactive(err))
			}
		})
	}
}

func TestParseIntrospectionClaims(t *testing.T) {
	c, err := ParseIntrospection([]byte(`{"active":true,"exp":2000000000,"sub":"alice","scope":"orders:read orders:read write","aud":"api","client_id":"cli","iss":"https://idp","groups":["admins"],"tenant":{"id":"t1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.ExpiresAt != 2000000000 || c.Issuer != "https://idp" || c.ClientID != "cli" ||
		len(c.Audience) != 1 || c.Audience[0] != "api" || len(c.Scopes) != 2 || !c.HasScope("write") || c.Alg != "" || c.Key != nil {
		t.Fatalf("claims = %+v", c)
	}
	if v, ok := c.Claim("tenant.id"); !ok || v != "t1" {
		t.Fatalf("tenant.id = %v, %v", v, ok)
	}
}

// FuzzParseIntrospection: arbitrary bodies never panic; an accepted body is
// a JSON object with "active": true and an exp, as encoding/json reads it.
func FuzzParseIntrospection(f *testing.F) {
	for _, s := range []string{`{"active":true,"exp":1}`, `{"active":false}`, `{"active":"true","exp":1}`,
		`{"active":false,"active":true,"exp":1}`, `{"active":true,"exp":1,"cnf":{}}`, `{"active":true,"exp":1e3,"scope":"a b"}`,
		`{"active":true,"exp":1,"token_type":"Bearer","aud":["a","b"]}`, "{\"active\":true,\"exp\":1,\"s\xff\":1}", `[]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseIntrospection(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		var m map[string]any
		if jerr := json.Unmarshal(body, &m); jerr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, jerr)
		}
		if m["active"] != true {
			t.Fatalf("accepted %q without active true", body)
		}
		if _, ok := m["exp"]; !ok || c == nil {
			t.Fatalf("accepted %q without exp", body)
		}
	})
}
