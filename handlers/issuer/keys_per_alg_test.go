package issuer

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// A client's signing_alg gets its own key, published and rotated beside
// the issuer's; its tokens verify with the issuer's keys (introspection,
// the in-process gateway).
func TestPerClientSigningAlg(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.KeyRotation = time.Hour
		c.Clients = append(c.Clients,
			ClientConfig{ID: "legacy-rs", Secrets: []SecretConfig{{Plain: "rs"}}, SigningAlg: token.RS256},
			ClientConfig{ID: "legacy-rs2", Secrets: []SecretConfig{{Plain: "rs2"}}, SigningAlg: token.RS256},
			ClientConfig{ID: "ed", Secrets: []SecretConfig{{Plain: "ed"}}, SigningAlg: token.EdDSA},
			ClientConfig{ID: "same", Secrets: []SecretConfig{{Plain: "same"}}, SigningAlg: DefaultSigningAlg},
		)
	})
	kidsOf := func() map[string]string {
		r := e.do("GET", PathJWKS, nil, "", "")
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.raw), &doc); err != nil {
			t.Fatalf("JWKS %q: %v", r.raw, err)
		}
		out := map[string]string{}
		for _, k := range doc["keys"].([]any) {
			m := k.(map[string]any)
			out[m["kid"].(string)] = m["alg"].(string)
		}
		return out
	}
	tokAlg := func(id, secret string) (alg, kid string, tok string) {
		tok = e.token(id, secret, nil)
		hdr, _ := decodeJWT(t, tok)
		return hdr["alg"].(string), hdr["kid"].(string), tok
	}
	for _, tc := range []struct{ id, secret, alg string }{
		{"legacy-rs", "rs", token.RS256}, {"legacy-rs2", "rs2", token.RS256}, {"ed", "ed", token.EdDSA},
		{"same", "same", DefaultSigningAlg}, {"app", "app-secret", DefaultSigningAlg},
	} {
		alg, kid, tok := tokAlg(tc.id, tc.secret)
		if alg != tc.alg {
			t.Fatalf("%s: alg %s, want %s", tc.id, alg, tc.alg)
		}
		if kidsOf()[kid] != tc.alg {
			t.Fatalf("%s: kid %s not published as %s: %v", tc.id, kid, tc.alg, kidsOf())
		}
		if in := e.introspect(tok, tc.id, tc.secret); in["active"] != true {
			t.Fatalf("%s: introspection %v", tc.id, in)
		}
		if _, err := e.iss.ResolveKeys(t.Context(), kid, alg); err != nil {
			t.Fatalf("%s: ResolveKeys: %v", tc.id, err)
		}
	}
	if n := len(kidsOf()); n != 3 {
		t.Fatalf("JWKS has %d keys, want one per algorithm: %v", n, kidsOf())
	}
	// Rotation: every algorithm's key is replaced on the issuer's schedule
	// and the old one stays published.
	_, oldRS, _ := tokAlg("legacy-rs", "rs")
	for _, step := range []time.Duration{time.Hour, 6 * time.Minute} { // publish, then activate
		e.clock.Advance(step)
		for _, m := range append([]*keyManager{e.iss.keys}, e.iss.algKeys[token.RS256], e.iss.algKeys[token.EdDSA]) {
			if err := m.refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, newRS, _ := tokAlg("legacy-rs", "rs")
	if newRS == oldRS || !slices.Contains(keys(kidsOf()), oldRS) {
		t.Fatalf("RS256 key did not rotate with overlap: old %s new %s, published %v", oldRS, newRS, kidsOf())
	}
	// An unknown algorithm is a config error.
	if _, err := New(t.Context(), Config{Issuer: testIss, Clients: []ClientConfig{{ID: "x", Secrets: []SecretConfig{{Plain: "s"}}, SigningAlg: "none"}}}); err == nil {
		t.Fatal("signing_alg none accepted")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
