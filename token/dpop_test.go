package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// memReplay is a ReplayMarker for tests.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func (m *memReplay) MarkUsed(_ context.Context, key string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if _, ok := m.seen[key]; ok {
		return false, nil
	}
	m.seen[key] = until
	return true, nil
}

var dpopNow = time.Unix(1_800_000_000, 0)

// proofKey is a client's DPoP key with its public JWK (as jwx renders it).
type proofKey struct {
	alg     string
	private crypto.Signer
	jwk     string // public JWK JSON
	jkt     string // jwx's thumbprint
}

func newProofKey(t testing.TB, alg string) *proofKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RS256, PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pub)
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &proofKey{alg: alg, private: priv, jwk: string(b), jkt: b64.EncodeToString(tp)}
}

// proof signs a proof with header and claims JSON given raw.
func (k *proofKey) proofRaw(t testing.TB, header, claims string) string {
	return signRaw(t, k.alg, k.private, header, claims)
}

func (k *proofKey) header() string {
	return `{"typ":"dpop+jwt","alg":"` + k.alg + `","jwk":` + k.jwk + `}`
}

// proof signs a well-formed proof for method and url at iat, with extra
// claims (JSON members, may be "").
func (k *proofKey) proof(t testing.TB, method, url string, iat time.Time, extra string) string {
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	c := `{"jti":"` + b64.EncodeToString(jti) + `","htm":"` + method + `","htu":"` + url + `","iat":` + itoa(iat.Unix())
	if extra != "" {
		c += "," + extra
	}
	return k.proofRaw(t, k.header(), c+"}")
}

// testVerifier has a key cache of two entries: every test also runs hits
// and the cache's start-over path.
func testVerifier(r ReplayMarker) *DPoPVerifier {
	return &DPoPVerifier{Replay: r, Scope: "test", Keys: NewDPoPKeyCache(2)}
}

const testHTU = "https://api.example.com/orders"

func TestDPoPProofAlgorithms(t *testing.T) {
	for _, alg := range []string{ES256, ES384, ES512, EdDSA, RS256, PS256} {
		t.Run(alg, func(t *testing.T) {
			k := newProofKey(t, alg)
			v := testVerifier(&memReplay{})
			p, err := v.Verify(context.Background(), k.proof(t, "GET", testHTU, dpopNow, ""), DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow})
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != k.jkt || p.Alg != alg {
				t.Fatalf("jkt %s alg %s, want jwx's thumbprint %s", p.JKT, p.Alg, k.jkt)
			}
		})
	}
}

func TestDPoPProofRefusals(t *testing.T) {
	k := newProofKey(t, ES256)
	other := newProofKey(t, ES256)
	tok := "the.access.token"
	ath := `"ath":"` + AccessTokenHash(tok) + `"`
	base := DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow}
	withToken := base
	withToken.AccessToken = tok
	ecPriv := k.private.(*ecdsa.PrivateKey)
	privJWK, _ := jwk.Import(ecPriv)
	privJSON, _ := json.Marshal(privJWK)
	claims := func(extra string) string {
		return `{"jti":"j1","htm":"GET","htu":"` + testHTU + `","iat":` + itoa(dpopNow.Unix()) + extra + `}`
	}
	cases := []struct {
		name   string
		proof  string
		req    DPoPRequest
		reason Reason
	}{
		{"empty", "", base, ReasonDPoPProof},
		{"not a JWT", "abc", base, ReasonDPoPProof},
		{"JWE-like", "a.b.c.d.e", base, ReasonDPoPProof},
		{"oversized", strings.Repeat("a", MaxDPoPProofBytes+1), base, ReasonDPoPProof},
		{"wrong typ", k.proofRaw(t, `{"typ":"jwt","alg":"ES256","jwk":`+k.jwk+`}`, claims("")), base, ReasonDPoPProof},
		{"no typ", k.proofRaw(t, `{"alg":"ES256","jwk":`+k.jwk+`}`, claims("")), base, ReasonDPoPProof},
		{"no jwk", k.proofRaw(t, `{"typ":"dpop+jwt","alg":"ES256"}`, claims("")), base, ReasonDPoPProof},
		{"jwk not an object", k.proofRaw(t, `{"typ":"dpop+jwt","alg":"ES256","jwk":"x"}`, claims("")), base, ReasonDPoPProof},
		{"private jwk", k.proofRaw(t, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+string(privJSON)+`}`, claims("")), base, ReasonDPoPProof},
		{"alg none", enc(`{"typ":"dpop+jwt","alg":"none","jwk":`+k.jwk+`}`) + "." + enc(claims("")) + ".", base, ReasonDPoPProof},
		{"alg HS256", enc(`{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}`) + "." + enc(claims("")) + ".c2ln", base, ReasonDPoPProof},
		{"alg does not fit key", enc(`{"typ":"dpop+jwt","alg":"RS256","jwk":`+k.jwk+`}`) + "." + enc(claims("")) + ".c2ln", base, ReasonDPoPProof},
		{"crit", k.proofRaw(t, `{"typ":"dpop+jwt","alg":"ES256","crit":["x"],"x":1,"jwk":`+k.jwk+`}`, claims("")), base, ReasonDPoPProof},
		{"jku", k.proofRaw(t, `{"typ":"dpop+jwt","alg":"ES256","jku":"https://evil","jwk":`+k.jwk+`}`, claims("")), base, ReasonDPoPProof},
		{"duplicate alg", k.proofRaw(t, `{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":`+k.jwk+`}`, claims("")), base, ReasonDPoPProof},
		{"signed by another key", other.proofRaw(t, k.header(), claims("")), base, ReasonDPoPProof},
		{"no signature", strings.TrimRightFunc(k.proof(t, "GET", testHTU, dpopNow, ""), func(r rune) bool { return r != '.' }), base, ReasonDPoPProof},
		{"wrong htm", k.proof(t, "POST", testHTU, dpopNow, ""), base, ReasonDPoPProof},
		{"wrong htu path", k.proof(t, "GET", "https://api.example.com/other", dpopNow, ""), base, ReasonDPoPProof},
		{"wrong htu host", k.proof(t, "GET", "https://evil.example.com/orders", dpopNow, ""), base, ReasonDPoPProof},
		{"wrong htu scheme", k.proof(t, "GET", "http://api.example.com/orders", dpopNow, ""), base, ReasonDPoPProof},
		{"stale iat", k.proof(t, "GET", testHTU, dpopNow.Add(-DefaultDPoPMaxAge-DefaultDPoPLeeway-time.Second), ""), base, ReasonDPoPProof},
		{"future iat", k.proof(t, "GET", testHTU, dpopNow.Add(DefaultDPoPLeeway+time.Second), ""), base, ReasonDPoPProof},
		{"no iat", k.proofRaw(t, k.header(), `{"jti":"j","htm":"GET","htu":"`+testHTU+`"}`), base, ReasonDPoPProof},
		{"iat string", k.proofRaw(t, k.header(), `{"jti":"j","htm":"GET","htu":"`+testHTU+`","iat":"1"}`), base, ReasonDPoPProof},
		{"no jti", k.proofRaw(t, k.header(), `{"htm":"GET","htu":"`+testHTU+`","iat":`+itoa(dpopNow.Unix())+`}`), base, ReasonDPoPProof},
		{"huge jti", k.proofRaw(t, k.header(), `{"jti":"`+strings.Repeat("j", 3000)+`","htm":"GET","htu":"`+testHTU+`","iat":`+itoa(dpopNow.Unix())+`}`), base, ReasonDPoPProof},
		{"duplicate htu", k.proofRaw(t, k.header(), `{"jti":"j","htm":"GET","htu":"https://evil/","htu":"`+testHTU+`","iat":`+itoa(dpopNow.Unix())+`}`), base, ReasonDPoPProof},
		{"no ath at a resource", k.proof(t, "GET", testHTU, dpopNow, ""), withToken, ReasonDPoPProof},
		{"wrong ath", k.proof(t, "GET", testHTU, dpopNow, `"ath":"`+AccessTokenHash("other")+`"`), withToken, ReasonDPoPProof},
		{"nonce missing", k.proof(t, "GET", testHTU, dpopNow, ath), DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow, AccessToken: tok, Nonce: func(n string) bool { return n == "n1" }}, ReasonDPoPNonce},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := testVerifier(&memReplay{}).Verify(context.Background(), c.proof, c.req)
			var te *Error
			if !errors.As(err, &te) || te.Reason != c.reason {
				t.Fatalf("got %v, want reason %s", err, c.reason)
			}
		})
	}
	// The same proofs pass when they should: the refusals above are for
	// the reason named, not for a broken fixture.
	ok := []struct {
		name  string
		proof string
		req   DPoPRequest
	}{
		{"ath", k.proof(t, "GET", testHTU, dpopNow, ath), withToken},
		{"nonce", k.proof(t, "GET", testHTU, dpopNow, ath+`,"nonce":"n1"`), DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow, AccessToken: tok, Nonce: func(n string) bool { return n == "n1" }}},
		{"iat at the leeway", k.proof(t, "GET", testHTU, dpopNow.Add(DefaultDPoPLeeway), ""), base},
		{"iat at max age", k.proof(t, "GET", testHTU, dpopNow.Add(-DefaultDPoPMaxAge-DefaultDPoPLeeway), ""), base},
		{"htu normalised", k.proof(t, "GET", "HTTPS://API.example.com:443/%6Frders?q=1#f", dpopNow, ""), base},
		{"unknown claims and headers", k.proofRaw(t, `{"typ":"DPoP+JWT","alg":"ES256","kid":"x","jwk":`+k.jwk+`}`, claims(`,"x":{"y":[1]}`)), base},
	}
	for _, c := range ok {
		t.Run("ok "+c.name, func(t *testing.T) {
			if _, err := testVerifier(&memReplay{}).Verify(context.Background(), c.proof, c.req); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDPoPReplay(t *testing.T) {
	k := newProofKey(t, ES256)
	r := &memReplay{}
	v := testVerifier(r)
	req := DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow}
	proof := k.proof(t, "GET", testHTU, dpopNow, "")
	// A proof refused for another reason does not spend its jti.
	if _, err := v.Verify(context.Background(), proof, DPoPRequest{Method: "POST", URL: testHTU, Now: dpopNow}); err == nil {
		t.Fatal("wrong method accepted")
	}
	// Nor does a proof of another key than the token's.
	other := req
	other.JKT = newProofKey(t, ES256).jkt
	_, err := v.Verify(context.Background(), proof, other)
	var ke *Error
	if !errors.As(err, &ke) || ke.Reason != ReasonDPoPKey || len(r.seen) != 0 {
		t.Fatalf("proof of another key: %v, %d markers", err, len(r.seen))
	}
	req.JKT = k.jkt
	if _, err := v.Verify(context.Background(), proof, req); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), proof, req)
	var te *Error
	if !errors.As(err, &te) || te.Reason != ReasonDPoPReplay {
		t.Fatalf("replay: %v", err)
	}
	// Markers live until the proof could no longer pass the iat check.
	for _, until := range r.seen {
		if want := dpopNow.Add(DefaultDPoPMaxAge + DefaultDPoPLeeway + time.Second); !until.Equal(want) {
			t.Fatalf("marker until %v, want %v", until, want)
		}
	}
	r.err = errors.New("store down")
	_, err = v.Verify(context.Background(), k.proof(t, "GET", testHTU, dpopNow, ""), req)
	if !errors.As(err, &te) || te.Reason != ReasonDPoPUnavailable {
		t.Fatalf("store down: %v", err)
	}
}

func TestDPoPJWKCanonical(t *testing.T) {
	k := newProofKey(t, ES256)
	var m map[string]string
	_ = json.Unmarshal([]byte(k.jwk), &m)
	for name, mut := range map[string]func(map[string]string){
		"x padded":       func(m map[string]string) { m["x"] += "=" },
		"x short":        func(m map[string]string) { m["x"] = m["x"][1:] },
		"off curve":      func(m map[string]string) { m["y"] = m["x"] },
		"wrong crv":      func(m map[string]string) { m["crv"] = "P-384" },
		"unknown kty":    func(m map[string]string) { m["kty"] = "oct" },
		"private d":      func(m map[string]string) { m["d"] = m["x"] },
		"symmetric k":    func(m map[string]string) { m["k"] = m["x"] },
		"x std encoding": func(m map[string]string) { m["x"] = strings.NewReplacer("-", "+", "_", "/").Replace(m["x"]) + "+" },
	} {
		c := map[string]string{}
		for a, b := range m {
			c[a] = b
		}
		mut(c)
		raw, _ := json.Marshal(c)
		if _, err := JWKThumbprint(raw, ES256); err == nil {
			t.Errorf("%s: accepted %s", name, raw)
		}
	}
	jkt, err := JWKThumbprint([]byte(k.jwk), ES256)
	if err != nil || jkt != k.jkt {
		t.Fatalf("thumbprint %q %v, want %q", jkt, err, k.jkt)
	}
	// RFC 7638 §3.1's example key and thumbprint.
	const rfc = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	jkt, err = JWKThumbprint([]byte(rfc), RS256)
	if err != nil || jkt != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("RFC 7638 example: %q %v", jkt, err)
	}
}

func TestNormalizeHTU(t *testing.T) {
	same := [][2]string{
		{"https://a.example/x", "HTTPS://A.EXAMPLE:443/x"},
		{"http://a.example/", "http://a.example:80"},
		{"https://a.example/x?y=1#z", "https://a.example/x"},
		{"https://a.example/%7euser/%2f", "https://a.example/~user/%2F"},
	}
	for _, p := range same {
		a, ok1 := NormalizeHTU(p[0])
		b, ok2 := NormalizeHTU(p[1])
		if !ok1 || !ok2 || a != b {
			t.Errorf("%q (%q) != %q (%q)", p[0], a, p[1], b)
		}
	}
	differ := [][2]string{
		{"https://a.example/x", "https://a.example/X"},
		{"https://a.example/x", "https://a.example:8443/x"},
		{"https://a.example/x", "http://a.example/x"},
		{"https://a.example/%2F", "https://a.example//"},
	}
	for _, p := range differ {
		a, _ := NormalizeHTU(p[0])
		b, _ := NormalizeHTU(p[1])
		if a == b {
			t.Errorf("%q == %q", p[0], p[1])
		}
	}
	for _, bad := range []string{"", "/x", "ftp://a/x", "https://u:p@a/x", "https://a/%zz", "mailto:x@y", strings.Repeat("a", 3000)} {
		if _, ok := NormalizeHTU(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzDPoPProof feeds arbitrary proofs to the verifier: it never panics,
// errors are *Error, and whatever it accepts carries the key thumbprint jwx
// computes for the proof's jwk.
func FuzzDPoPProof(f *testing.F) {
	k := newProofKey(f, ES256)
	ed := newProofKey(f, EdDSA)
	f.Add(k.proof(f, "GET", testHTU, dpopNow, ""))
	f.Add(ed.proof(f, "GET", testHTU, dpopNow, `"nonce":"n"`))
	f.Add(k.proofRaw(f, `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"","y":""}}`, `{}`))
	f.Add(enc(`{"typ":"dpop+jwt","alg":"none","jwk":{}}`) + "." + enc(`{"jti":"1"}`) + ".")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, proof string) {
		v := testVerifier(&memReplay{})
		p, err := v.Verify(context.Background(), proof, DPoPRequest{Method: "GET", URL: testHTU, Now: dpopNow})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		hdr, _ := b64.DecodeString(proof[:strings.IndexByte(proof, '.')])
		var h struct {
			JWK json.RawMessage `json:"jwk"`
		}
		if err := json.Unmarshal(hdr, &h); err != nil {
			t.Fatalf("accepted a proof whose header encoding/json rejects: %v", err)
		}
		key, err := jwk.ParseKey(h.JWK)
		if err != nil {
			t.Fatalf("accepted a jwk jwx rejects: %v", err)
		}
		tp, _ := key.Thumbprint(crypto.SHA256)
		if b64.EncodeToString(tp) != p.JKT {
			t.Fatalf("thumbprint %s, jwx says %s", p.JKT, b64.EncodeToString(tp))
		}
	})
}
