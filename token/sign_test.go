package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

var signAllAlgs = []string{ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, HS256, HS384, HS512}

var signTestClaims = []byte(`{"iss":"https://auth.example.com","sub":"svc-orders","aud":["https://api.example.com"],"exp":1893456000,"iat":1893452400,"jti":"6f1c2a9e-4b1d-4f5e-9c3a-2d7b8e0f1a2b","client_id":"svc-orders","scope":"orders:read orders:write"}`)

// signKeys caches one generated key per key family (RSA generation is slow).
var (
	signKeysMu sync.Mutex
	signKeys   = map[string]any{}
)

func signFamily(alg string) string {
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		return "RSA"
	}
	return alg
}

func signTestKey(t testing.TB, alg string) any {
	t.Helper()
	signKeysMu.Lock()
	defer signKeysMu.Unlock()
	if k, ok := signKeys[signFamily(alg)]; ok {
		return k
	}
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	signKeys[signFamily(alg)] = k
	return k
}

func signPublic(private any) any {
	switch k := private.(type) {
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *rsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return private // HMAC
}

func TestGenerateKey(t *testing.T) {
	for _, alg := range signAllAlgs {
		t.Run(alg, func(t *testing.T) {
			k := signTestKey(t, alg)
			switch alg {
			case ES256, ES384, ES512:
				want := map[string]elliptic.Curve{ES256: elliptic.P256(), ES384: elliptic.P384(), ES512: elliptic.P521()}[alg]
				if ec, ok := k.(*ecdsa.PrivateKey); !ok || ec.Curve != want {
					t.Fatalf("got %T, want ECDSA on %s", k, want.Params().Name)
				}
			case EdDSA:
				if ed, ok := k.(ed25519.PrivateKey); !ok || len(ed) != ed25519.PrivateKeySize {
					t.Fatalf("got %T", k)
				}
			case HS256, HS384, HS512:
				want := map[string]int{HS256: 32, HS384: 48, HS512: 64}[alg]
				if s, ok := k.([]byte); !ok || len(s) != want {
					t.Fatalf("got %T of %d bytes, want %d bytes", k, len(s), want)
				}
			default:
				if r, ok := k.(*rsa.PrivateKey); !ok || r.N.BitLen() != GeneratedRSABits {
					t.Fatalf("got %T, want RSA-%d", k, GeneratedRSABits)
				}
			}
		})
	}
	a, _ := GenerateKey(HS256)
	b, _ := GenerateKey(HS256)
	if bytes.Equal(a.([]byte), b.([]byte)) {
		t.Fatal("two generated HMAC secrets are equal")
	}
	for _, bad := range []string{"", "none", "ES256K", "hs256"} {
		if _, err := GenerateKey(bad); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", bad)
		}
	}
}

func splitToken(t *testing.T, tok string) (header []byte, input, payload, sig []byte) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts: %q", len(parts), tok)
	}
	var err error
	if header, err = base64.RawURLEncoding.Strict().DecodeString(parts[0]); err != nil {
		t.Fatalf("header: %v", err)
	}
	if payload, err = base64.RawURLEncoding.Strict().DecodeString(parts[1]); err != nil {
		t.Fatalf("payload: %v", err)
	}
	if sig, err = base64.RawURLEncoding.Strict().DecodeString(parts[2]); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return header, []byte(parts[0] + "." + parts[1]), payload, sig
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range signAllAlgs {
		t.Run(alg, func(t *testing.T) {
			private := signTestKey(t, alg)
			s, err := NewSigner("kid-"+alg, alg, private)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != "kid-"+alg || s.Alg() != alg {
				t.Fatalf("KeyID/Alg = %q/%q", s.KeyID(), s.Alg())
			}
			tok, err := s.Sign(TypAccessToken, signTestClaims)
			if err != nil {
				t.Fatal(err)
			}
			header, input, payload, sig := splitToken(t, tok)
			if want := `{"alg":"` + alg + `","kid":"kid-` + alg + `","typ":"at+jwt"}`; string(header) != want {
				t.Fatalf("header = %s, want %s", header, want)
			}
			if !bytes.Equal(payload, signTestClaims) {
				t.Fatalf("payload = %s", payload)
			}
			if want := s.sigLen; len(sig) != want {
				t.Errorf("signature is %d bytes, precomputed size %d", len(sig), want)
			}

			// 1. The in-process verification key, through jwsbb.
			vk := s.VerificationKey()
			if vk.ID != s.KeyID() || vk.Alg != alg || !vk.Allows(alg) || vk != s.VerificationKey() {
				t.Fatalf("verification key: %+v", vk)
			}
			if IsHMAC(alg) != (vk.Kind == KindHMAC) {
				t.Fatalf("verification key kind %s for %s", vk.Kind, alg)
			}
			if err := jwsbb.Verify(vk.Material, alg, input, sig); err != nil {
				t.Fatalf("jwsbb.Verify: %v", err)
			}
			tampered := bytes.Clone(input)
			tampered[len(tampered)-2] ^= 1
			if err := jwsbb.Verify(vk.Material, alg, tampered, sig); err == nil {
				t.Fatal("jwsbb.Verify accepted a tampered token")
			}

			// 2. Independently, through jwx's high-level jws.Verify.
			ja, ok := jwa.LookupSignatureAlgorithm(alg)
			if !ok {
				t.Fatalf("jwa does not know %s", alg)
			}
			got, err := jws.Verify([]byte(tok), jws.WithKey(ja, signPublic(private)))
			if err != nil {
				t.Fatalf("jws.Verify: %v", err)
			}
			if !bytes.Equal(got, signTestClaims) {
				t.Fatalf("jws.Verify payload = %s", got)
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKey(ja, signPublic(signOtherKey(t, alg)))); err == nil {
				t.Fatal("jws.Verify accepted the token with another key")
			}
		})
	}
}

// signOtherKey returns a fresh key of the same family (a cheap one for RSA:
// 2048 bits is enough to prove a mismatch).
func signOtherKey(t *testing.T, alg string) any {
	if signFamily(alg) == "RSA" {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignHeaderBytes(t *testing.T) {
	key := signTestKey(t, ES256)
	s, err := NewSigner("key-1", ES256, key)
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]string{
		TypAccessToken: `{"alg":"ES256","kid":"key-1","typ":"at+jwt"}`,
		TypJWT:         `{"alg":"ES256","kid":"key-1","typ":"JWT"}`,
		"":             `{"alg":"ES256","kid":"key-1"}`,
		"dpop+jwt":     `{"alg":"ES256","kid":"key-1","typ":"dpop+jwt"}`,
	} {
		for range 2 { // second time from the cache
			tok, err := s.Sign(typ, signTestClaims)
			if err != nil {
				t.Fatal(err)
			}
			header, _, _, _ := splitToken(t, tok)
			if string(header) != want {
				t.Errorf("typ %q: header %s, want %s", typ, header, want)
			}
			if string(s.HeaderJSON(typ)) != want {
				t.Errorf("typ %q: HeaderJSON %s, want %s", typ, s.HeaderJSON(typ), want)
			}
		}
	}

	// A kid or typ that needs escaping still yields valid JSON in order.
	odd, err := NewSigner(`k"\<1>`, ES256, key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := odd.Sign("a\"b", signTestClaims)
	if err != nil {
		t.Fatal(err)
	}
	header, _, _, _ := splitToken(t, tok)
	var h struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(header, &h); err != nil || h.Alg != ES256 || h.Kid != `k"\<1>` || h.Typ != "a\"b" {
		t.Fatalf("escaped header %s: %+v %v", header, h, err)
	}
	if !strings.HasPrefix(string(header), `{"alg":"ES256","kid":`) {
		t.Fatalf("member order: %s", header)
	}

	// Many distinct typ values: past the cache bound they are still right.
	for i := range 3 * maxCachedTyps {
		typ := fmt.Sprintf("t%d", i)
		tok, err := s.Sign(typ, signTestClaims)
		if err != nil {
			t.Fatal(err)
		}
		header, _, _, _ := splitToken(t, tok)
		if want := `{"alg":"ES256","kid":"key-1","typ":"` + typ + `"}`; string(header) != want {
			t.Fatalf("header %s, want %s", header, want)
		}
	}
	if n := s.nextra.Load(); n > maxCachedTyps {
		t.Fatalf("typ cache holds %d entries, limit %d", n, maxCachedTyps)
	}
}

func TestSignRejectsNonObjectClaims(t *testing.T) {
	s, err := NewSigner("k", HS256, signTestKey(t, HS256))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"", "{", "[]", `"x"`, "null", "{} "} {
		if _, err := s.Sign(TypJWT, []byte(c)); err == nil {
			t.Errorf("claims %q accepted", c)
		}
	}
	if _, err := s.Sign(TypJWT, []byte("{}")); err != nil {
		t.Errorf("empty object rejected: %v", err)
	}
}

func TestNewSignerRejects(t *testing.T) {
	ec := signTestKey(t, ES256)
	rk := signTestKey(t, RS256)
	ed := signTestKey(t, EdDSA)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, kid, alg string
		key            any
	}{
		{"empty kid", "", ES256, ec},
		{"none", "k", "none", ec},
		{"unknown alg", "k", "ES256K", ec},
		{"P-256 as ES384", "k", ES384, ec},
		{"EC as RS256", "k", RS256, ec},
		{"RSA as ES256", "k", ES256, rk},
		{"RSA as HS256", "k", HS256, rk},
		{"Ed25519 as ES256", "k", ES256, ed},
		{"HMAC as ES256", "k", ES256, make([]byte, 64)},
		{"short HS256 secret", "k", HS256, make([]byte, 31)},
		{"short HS512 secret", "k", HS512, make([]byte, 32)},
		{"RSA-1024", "k", RS256, small},
		{"public key", "k", ES256, &ec.(*ecdsa.PrivateKey).PublicKey},
		{"nil", "k", ES256, nil},
		{"malformed Ed25519", "k", EdDSA, ed25519.PrivateKey(make([]byte, 10))},
	} {
		if _, err := NewSigner(tc.kid, tc.alg, tc.key); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestSignerCopiesHMACSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	s, err := NewSigner("k", HS256, secret)
	if err != nil {
		t.Fatal(err)
	}
	tok1, _ := s.Sign(TypJWT, signTestClaims)
	secret[0] ^= 0xff
	tok2, _ := s.Sign(TypJWT, signTestClaims)
	if tok1 != tok2 {
		t.Fatal("changing the caller's secret changed the Signer")
	}
	if m := s.VerificationKey().Material.([]byte); m[0] != 7 {
		t.Fatal("verification key shares the caller's secret")
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	for _, alg := range signAllAlgs {
		t.Run(alg, func(t *testing.T) {
			private := signTestKey(t, alg)
			der, err := MarshalPrivateKey(private)
			if err != nil {
				t.Fatal(err)
			}
			if !IsHMAC(alg) {
				if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
					t.Fatalf("not PKCS#8: %v", err)
				}
			} else {
				der[0] ^= 0xff // a copy: the key itself is untouched
				if bytes.Equal(der, private.([]byte)) || der[0]^0xff != private.([]byte)[0] {
					t.Fatal("MarshalPrivateKey did not return a copy of the HMAC secret")
				}
				der[0] ^= 0xff
			}
			back, err := ParsePrivateKey(alg, der)
			if err != nil {
				t.Fatal(err)
			}
			switch k := private.(type) {
			case []byte:
				if !bytes.Equal(back.([]byte), k) {
					t.Fatal("HMAC secret changed")
				}
				der[0] ^= 0xff
				if back.([]byte)[0] != k[0] {
					t.Fatal("ParsePrivateKey did not copy the HMAC secret")
				}
			case interface{ Equal(crypto.PrivateKey) bool }:
				if !k.Equal(back) {
					t.Fatalf("round trip changed the key: %T", back)
				}
			default:
				t.Fatalf("unexpected key type %T", private)
			}
			// The parsed key signs tokens the original verifies.
			s, err := NewSigner("k", alg, back)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Sign(TypJWT, signTestClaims)
			if err != nil {
				t.Fatal(err)
			}
			_, input, _, sig := splitToken(t, tok)
			if err := jwsbb.Verify(signPublic(private), alg, input, sig); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, bad := range []any{nil, "secret", &ecdsa.PublicKey{}, []byte{}} {
		if _, err := MarshalPrivateKey(bad); err == nil {
			t.Errorf("MarshalPrivateKey(%T) succeeded", bad)
		}
	}
}

func TestParsePrivateKeyRejectsWrongKind(t *testing.T) {
	der := func(alg string) []byte {
		d, err := MarshalPrivateKey(signTestKey(t, alg))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	for _, tc := range []struct {
		name, alg string
		data      []byte
	}{
		{"P-256 as ES384", ES384, der(ES256)},
		{"P-384 as ES256", ES256, der(ES384)},
		{"P-521 as ES384", ES384, der(ES512)},
		{"RSA as ES256", ES256, der(RS256)},
		{"EC as RS256", RS256, der(ES256)},
		{"EC as PS256", PS256, der(ES256)},
		{"Ed25519 as ES256", ES256, der(EdDSA)},
		{"P-256 as EdDSA", EdDSA, der(ES256)},
		{"RSA as EdDSA", EdDSA, der(RS256)},
		{"HMAC secret as ES256", ES256, der(HS256)},
		{"HMAC secret as EdDSA", EdDSA, der(HS512)},
		{"HS256 secret as HS384", HS384, der(HS256)},
		{"short secret", HS256, make([]byte, 16)},
		{"RSA-1024", RS256, smallDER},
		{"garbage", ES256, []byte("not a key")},
		{"none", "none", der(ES256)},
		{"empty alg", "", der(ES256)},
	} {
		if _, err := ParsePrivateKey(tc.alg, tc.data); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// The right alg for each family parses.
	for _, alg := range []string{ES256, PS512, EdDSA, HS512} {
		if _, err := ParsePrivateKey(alg, der(alg)); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

func TestPublicJWK(t *testing.T) {
	for _, alg := range signAllAlgs {
		t.Run(alg, func(t *testing.T) {
			private := signTestKey(t, alg)
			m, err := PublicJWK("kid-1", alg, private)
			if IsHMAC(alg) {
				if err == nil {
					t.Fatalf("HMAC key published: %v", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := m[member]; ok {
					t.Fatalf("public JWK contains private member %q", member)
				}
			}
			if m["kid"] != "kid-1" || m["alg"] != alg || m["use"] != "sig" {
				t.Fatalf("kid/alg/use: %v", m)
			}
			want := map[string][2]string{
				ES256: {"EC", "P-256"}, ES384: {"EC", "P-384"}, ES512: {"EC", "P-521"}, EdDSA: {"OKP", "Ed25519"},
			}
			if w, ok := want[alg]; ok {
				if m["kty"] != w[0] || m["crv"] != w[1] || m["x"] == nil {
					t.Fatalf("kty/crv: %v", m)
				}
				if w[0] == "EC" && m["y"] == nil {
					t.Fatalf("EC key without y: %v", m)
				}
			} else if m["kty"] != "RSA" || m["n"] == nil || m["e"] == nil {
				t.Fatalf("RSA members: %v", m)
			}

			// The JWK parses back (through the package's own JWKS reader)
			// into a key that verifies the Signer's tokens.
			doc, err := json.Marshal(map[string]any{"keys": []any{m}})
			if err != nil {
				t.Fatal(err)
			}
			keys, skipped, err := ParseJWKS(doc, "test")
			if err != nil || len(skipped) != 0 || len(keys) != 1 {
				t.Fatalf("ParseJWKS: %v %v %v", keys, skipped, err)
			}
			if keys[0].ID != "kid-1" || keys[0].Alg != alg {
				t.Fatalf("parsed key %+v", keys[0])
			}
			s, err := NewSigner("kid-1", alg, private)
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := s.Sign(TypAccessToken, signTestClaims)
			_, input, _, sig := splitToken(t, tok)
			if err := jwsbb.Verify(keys[0].Material, alg, input, sig); err != nil {
				t.Fatalf("verify with the published key: %v", err)
			}
			// jwx agrees that it is a public key equal to ours.
			single, _ := json.Marshal(m)
			jk, err := jwk.ParseKey(single)
			if err != nil {
				t.Fatal(err)
			}
			if private, err := jwk.IsPrivateKey(jk); err != nil || private {
				t.Fatalf("jwx sees a private key: %v %v", private, err)
			}

			// The public half gives the same JWK.
			m2, err := PublicJWK("kid-1", alg, signPublic(private))
			if err != nil {
				t.Fatal(err)
			}
			j1, _ := json.Marshal(m)
			j2, _ := json.Marshal(m2)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("private and public give different JWKs:\n%s\n%s", j1, j2)
			}
		})
	}
	ec := signTestKey(t, ES256)
	for _, tc := range []struct {
		name, kid, alg string
		key            any
	}{
		{"HMAC secret", "k", HS256, make([]byte, 32)},
		{"bytes with asymmetric alg", "k", ES256, make([]byte, 32)},
		{"wrong alg", "k", ES384, ec},
		{"wrong alg on public key", "k", RS256, &ec.(*ecdsa.PrivateKey).PublicKey},
		{"none", "k", "none", ec},
		{"empty kid", "", ES256, ec},
		{"nil", "k", ES256, nil},
	} {
		if m, err := PublicJWK(tc.kid, tc.alg, tc.key); err == nil {
			t.Errorf("%s: published %v", tc.name, m)
		}
	}
}

func TestSignConcurrent(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, HS256} {
		private := signTestKey(t, alg)
		s, err := NewSigner("k-"+alg, alg, private)
		if err != nil {
			t.Fatal(err)
		}
		vk := s.VerificationKey()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					typ := []string{TypAccessToken, TypJWT, "", fmt.Sprintf("x%d", (g+i)%20)}[i%4]
					claims := fmt.Appendf(nil, `{"sub":"g%d","n":%d}`, g, i)
					tok, err := s.Sign(typ, claims)
					if err != nil {
						t.Error(err)
						return
					}
					parts := strings.Split(tok, ".")
					if len(parts) != 3 {
						t.Errorf("malformed token %q", tok)
						return
					}
					sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
					payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
					if !bytes.Equal(payload, claims) {
						t.Errorf("payload %s, want %s", payload, claims)
						return
					}
					if err := jwsbb.Verify(vk.Material, alg, []byte(parts[0]+"."+parts[1]), sig); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

var signBenchAlgs = []string{ES256, RS256, EdDSA, HS256}

// BenchmarkSign is the raw cost of signing one access token per algorithm,
// the baseline the issuer's throughput harness compares against.
// BenchmarkSignRaw measures jwsbb.Sign alone over the same signing input;
// run both in one invocation (-bench Sign) and the difference is the Signer's
// own overhead (header, base64, buffer).
func BenchmarkSign(b *testing.B) {
	for _, alg := range signBenchAlgs {
		b.Run(alg, func(b *testing.B) {
			s, err := NewSigner("bench-key", alg, signTestKey(b, alg))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(TypAccessToken, signTestClaims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignRaw(b *testing.B) {
	for _, alg := range signBenchAlgs {
		b.Run(alg, func(b *testing.B) {
			private := signTestKey(b, alg)
			s, err := NewSigner("bench-key", alg, private)
			if err != nil {
				b.Fatal(err)
			}
			tok, err := s.Sign(TypAccessToken, signTestClaims)
			if err != nil {
				b.Fatal(err)
			}
			input := []byte(tok[:strings.LastIndexByte(tok, '.')])
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwsbb.Sign(private, alg, input, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
