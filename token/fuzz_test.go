package token

import (
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// FuzzVerifySignature feeds arbitrary strings to the verifier: it must never
// panic, and anything it accepts must also verify with jwx's general-purpose
// jws.Verify under the same key (differential check).
func FuzzVerifySignature(f *testing.F) {
	k := newTestKeys(f)
	set := k.set(f)
	f.Add(signRaw(f, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON("")))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1"}`, claimsJSON(`"realm":{"roles":["a"]}`)))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256"}`, `{"exp":1e3}`))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c.d.e")
	// Hostile inputs of issue 8: many scopes (signed and forged), invalid
	// UTF-8 names, escaped and repeated iss, typed tokens.
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1"}`, hostileScopes(1900)))
	f.Add(signRaw(f, ES256, k.other, `{"alg":"ES256","kid":"ec1"}`, hostileScopes(1900)))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1"}`, hostileScp(200)))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1"}`, claimsJSON("\"role\xff\":\"user\",\"role\xfe\":\"admin\"")))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1"}`, `{"i\u0073s":"x","exp":1,"iss":"y"}`))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`, claimsJSON(`"a.b":1,"a":{"b":2}`)))
	f.Add(signRaw(f, HS256, k.hmac, `{"alg":"HS256","kid":"hs1","typ":"logout+jwt"}`, claimsJSON(`"r":"\ud800"`)))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := VerifySignature(context.Background(), tok, &Policy{}, staticKeys(set))
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		alg, ok := jwa.LookupSignatureAlgorithm(c.Alg)
		if !ok {
			t.Fatalf("accepted unknown alg %q", c.Alg)
		}
		if _, err := jws.Verify([]byte(tok), jws.WithKey(alg, c.Key.Material)); err != nil {
			t.Fatalf("accepted a token jwx rejects: %v", err)
		}
	})
}

// FuzzJSONScanner checks the walker never panics and never accepts what
// encoding/json considers invalid.
func FuzzJSONScanner(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":[1,{"b":null}],"c":"\u0041"}`, `{"a":1,"a":2}`, `{"a":-0.5e+3}`, `[]`, `{"a":tru}`,
		"{\"role\xff\":\"user\",\"role\xfe\":\"admin\"}", `{"a":"\ud800"}`, `{"a":"\ud83d\ude00","iss":"x"}`, `{"i\u0073s":"\u00e9","a":{"iss":1}}`,
		`{"iss":"a","iss":"b"}`, hostileScopes(300), `{"\u00e9\n\/\ud83d\ude00":1,"\"":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var names []string
		err := eachMember(data, func(name, value []byte) error {
			if len(value) == 0 {
				t.Fatalf("member %q has an empty value", name)
			}
			names = append(names, string(name))
			return nil
		})
		if err == nil && !json.Valid(data) {
			t.Fatalf("scanner accepted invalid JSON %q", data)
		}
		if err == nil && !utf8.Valid(data) {
			t.Fatalf("scanner accepted invalid UTF-8 %q", data)
		}
		iss, issErr := scanIssuer(data) // must not panic on anything
		if err == nil {
			var m map[string]any
			if json.Unmarshal(data, &m) != nil {
				t.Fatalf("scanner accepted non-object %q", data)
			}
			// Names decode as encoding/json decodes them.
			for _, name := range names {
				if _, ok := m[name]; !ok {
					t.Fatalf("decoded name %q is not among encoding/json's names of %q", name, data)
				}
			}
			// The pre-signature scan routes by the same iss as the full parse.
			if want, ok := m["iss"].(string); ok && (issErr != nil || iss != want) {
				t.Fatalf("scanIssuer = %q, %v; encoding/json reads iss %q", iss, issErr, want)
			}
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to the JWKS parser (they come
// from the network): it must never panic, and every key it returns must be
// a usable public key whose algorithm, if any, fits its type.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"a","use":"sig","alg":"ES256"}]}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, _, err := ParseJWKS(data, "fuzz")
		if err != nil {
			if len(keys) != 0 {
				t.Fatal("keys returned with an error")
			}
			return
		}
		if len(keys) == 0 || len(keys) > MaxJWKSKeys {
			t.Fatalf("%d keys without an error", len(keys))
		}
		for _, k := range keys {
			if k.Kind == KindUnknown || k.Kind == KindHMAC {
				t.Fatalf("unusable key kind %s accepted", k.Kind)
			}
			if k.Alg != "" && !k.Allows(k.Alg) {
				t.Fatalf("key %q: alg %s does not fit %s", k.ID, k.Alg, k.Kind)
			}
		}
	})
}
