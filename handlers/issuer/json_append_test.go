package issuer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authgate/caddy-authgate/token"
)

// hostileStrings are the cases encoding/json escapes specially.
var hostileStrings = []string{
	"", "plain", `q"uote`, `back\slash`, "<script>&amp;</script>", "\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "line\u2028sep\u2029", "\xff\xfe", "caf\xc3", "\xed\xa0\x80", "日本語 ✓ 😀",
	"a\u2027b", "scope:read  write", "\xf4\x90\x80\x80",
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range hostileStrings {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func TestAppendAccessClaimsMatchesEncodingJSON(t *testing.T) {
	for _, ac := range []accessClaims{
		{},
		{Issuer: "https://id.example", Subject: "app", Audience: audience{"api"}, Expires: 1700003600, IssuedAt: 1700000000, JTI: "j", ClientID: "app", Scope: "read write"},
		{Issuer: "i", Audience: audience{"a", "b<"}, Expires: -1, Scope: "x", Cnf: &token.Confirmation{JKT: "k"}, AuthTime: 42},
		{Audience: audience{}, Cnf: &token.Confirmation{X5TS256: "x"}},
		{Cnf: &token.Confirmation{X5TS256: "x", JKT: "y"}},
		{Cnf: &token.Confirmation{}},
	} {
		checkClaimsEquivalent(t, &ac)
	}
}

func TestAppendTokenResponseMatchesEncodingJSON(t *testing.T) {
	for _, r := range []tokenResponse{
		{},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 3600, Scope: "read"},
		{AccessToken: "t", TokenType: "DPoP", ExpiresIn: -5, Scope: "<&>", IssuedTokenType: "urn:x", RefreshToken: "r", IDToken: "i"},
		{RefreshToken: "r"},
	} {
		checkResponseEquivalent(t, &r)
	}
}

// TestWriteJSONTokenResponse checks the hand-built path of writeJSON: the
// same body, newline and headers as json.Marshal's.
func TestWriteJSONTokenResponse(t *testing.T) {
	r := &tokenResponse{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 60, Scope: "a\u2028b"}
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, r)
	want, _ := json.Marshal(r)
	if got := rec.Body.Bytes(); !bytes.Equal(got, append(want, '\n')) {
		t.Fatalf("body %q, want %q", got, want)
	}
	if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", rec.Header())
	}
}

// TestEncodeAccessClaimsExtra checks that extra claims still follow the
// hand-built registered claims, sorted, as one JSON object.
func TestEncodeAccessClaimsExtra(t *testing.T) {
	m := &mintRequest{client: &client{id: "app"}, subject: "u<1>", scopes: []string{"a", "b"}, audience: []string{"api"},
		extra: map[string]any{"z": 1, "act": map[string]string{"sub": "x"}}}
	got, err := encodeAccessClaims("https://id.example", m, "jti", 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iss":"https://id.example","sub":"u\u003c1\u003e","aud":"api","exp":20,"iat":10,"jti":"jti","client_id":"app","scope":"a b","act":{"sub":"x"},"z":1}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	m.extra = map[string]any{"scope": "x"}
	if _, err := encodeAccessClaims("i", m, "j", 1, 2); err == nil {
		t.Fatal("an extra claim overriding scope was accepted")
	}
}

func checkClaimsEquivalent(t *testing.T, ac *accessClaims) {
	t.Helper()
	want, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendAccessClaims(nil, ac); !bytes.Equal(got, want) {
		t.Fatalf("claims %+v:\ngot  %s\nwant %s", ac, got, want)
	}
}

func checkResponseEquivalent(t *testing.T, r *tokenResponse) {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendTokenResponse(nil, r); !bytes.Equal(got, want) {
		t.Fatalf("response %+v:\ngot  %s\nwant %s", r, got, want)
	}
}

// FuzzAppendJSONEquivalence checks the hand-built encoders against
// encoding/json, byte for byte, on arbitrary (also invalid UTF-8) strings.
func FuzzAppendJSONEquivalence(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, "app", "api", s, int64(1700000000), uint8(0))
	}
	f.Fuzz(func(t *testing.T, scope, sub, aud, other string, n int64, shape uint8) {
		want, _ := json.Marshal(scope)
		if got := appendJSONString(nil, scope); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", scope, got, want)
		}
		ac := accessClaims{Issuer: other, Subject: sub, Expires: n, IssuedAt: -n, JTI: other, ClientID: sub, Scope: scope}
		switch shape % 4 {
		case 1:
			ac.Audience = audience{aud}
		case 2:
			ac.Audience = audience{aud, scope, other}
		}
		if shape&4 != 0 {
			ac.Cnf = &token.Confirmation{JKT: other}
		}
		if shape&8 != 0 {
			ac.Cnf = &token.Confirmation{X5TS256: aud, JKT: scope}
		}
		if shape&16 != 0 {
			ac.AuthTime = n
		}
		checkClaimsEquivalent(t, &ac)
		checkResponseEquivalent(t, &tokenResponse{AccessToken: other, TokenType: sub, ExpiresIn: n, Scope: scope,
			IssuedTokenType: aud, RefreshToken: other, IDToken: scope})
		// The claims stay one valid JSON object whatever the input.
		if !utf8.Valid(appendAccessClaims(nil, &ac)) || !json.Valid(appendAccessClaims(nil, &ac)) {
			t.Fatalf("invalid JSON for %+v", ac)
		}
	})
}

// BenchmarkTokenEncoding measures what a client_credentials token costs the
// issuer in JSON (the access token's claims and the token response, with
// writeJSON's headers), hand-built against encoding/json, in alternating
// batches of one run; it reports ns for each and the ratio new / old.
func BenchmarkTokenEncoding(b *testing.B) {
	m := &mintRequest{client: &client{id: "billing-service"}, subject: "billing-service",
		scopes: []string{"invoices:read", "invoices:write", "customers:read"}, audience: []string{"https://api.example.com"}}
	iss := "https://id.example.com"
	jti := "0123456789abcdefghijkl"
	resp := &tokenResponse{AccessToken: string(bytes.Repeat([]byte("x"), 560)), TokenType: "Bearer", ExpiresIn: 3600, Scope: spaceJoined(m.scopes)}
	oldClaims := func() []byte {
		ac := accessClaims{Issuer: iss, Subject: m.subject, Audience: m.audience, Expires: 1700003600, IssuedAt: 1700000000,
			JTI: jti, ClientID: m.client.id, Scope: spaceJoined(m.scopes)}
		out, _ := json.Marshal(ac)
		return out
	}
	oldWrite := func(w http.ResponseWriter, v any) {
		out, _ := json.Marshal(v)
		h := w.Header()
		setNoStore(h)
		h.Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write(append(out, '\n'))
	}
	if got, _ := encodeAccessClaims(iss, m, jti, 1700000000, 1700003600); !bytes.Equal(got, oldClaims()) {
		b.Fatalf("encodings differ:\n%s\n%s", got, oldClaims())
	}
	const batch = 256
	var newT, oldT time.Duration
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for n < b.N {
		t0 := time.Now()
		for range batch {
			if _, err := encodeAccessClaims(iss, m, jti, 1700000000, 1700003600); err != nil {
				b.Fatal(err)
			}
			writeJSONDiscard(resp)
		}
		t1 := time.Now()
		for range batch {
			_ = oldClaims()
			oldWrite(discardWriter{h: make(map[string][]string, 4)}, resp)
		}
		t2 := time.Now()
		newT += t1.Sub(t0)
		oldT += t2.Sub(t1)
		n += batch
	}
	b.ReportMetric(float64(newT.Nanoseconds())/float64(n), "ns/new")
	b.ReportMetric(float64(oldT.Nanoseconds())/float64(n), "ns/old")
	b.ReportMetric(float64(newT)/float64(oldT), "new/old")
}
