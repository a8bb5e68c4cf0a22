package token

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// hostileScopes is the payload of the attack: n distinct scopes
// (2000 make a ~7.9 KB token), iss last so the whole payload must be read
// to find it.
func hostileScopes(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"exp":%d,"scope":"`, testNow.Unix()+3600)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(scopeName(i))
	}
	b.WriteString(`","iss":"https://idp.example"}`)
	return b.String()
}

// scopeName is the i-th shortest scope name: one or two characters.
func scopeName(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	if i < len(alphabet) {
		return alphabet[i : i+1]
	}
	i -= len(alphabet)
	return string([]byte{alphabet[i/len(alphabet)], alphabet[i%len(alphabet)]})
}

// hostileScp is n distinct scopes as an "scp" array.
func hostileScp(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = scopeName(i)
	}
	return fmt.Sprintf(`{"exp":%d,"scp":["%s"],"iss":"https://idp.example"}`, testNow.Unix()+3600, strings.Join(names, `","`))
}

// forge builds an unsigned token: a trusted kid and alg, but a signature
// made by a key nobody trusts.
func forge(t testing.TB, payload string) string {
	k := newTestKeys(t)
	return signRaw(t, ES256, k.other, `{"alg":"ES256","kid":"ec1"}`, payload)
}

// Before the signature only "iss" is decoded: a forged token whose other
// claims are invalid (duplicates, wrong types, no exp) is refused for its
// signature, which proves they were not parsed first. On the original code
// these were refused as malformed claims, after a full parse.
func TestForgedTokenClaimsNotParsedBeforeSignature(t *testing.T) {
	set := newTestKeys(t).set(t)
	for name, payload := range map[string]string{
		"duplicate sub":       claimsJSON(`"sub":"root"`),
		"exp of wrong type":   `{"iss":"https://idp.example","exp":"soon"}`,
		"no exp":              `{"iss":"https://idp.example"}`,
		"aud of wrong type":   `{"iss":"https://idp.example","exp":1,"aud":5}`,
		"2000 scopes":         hostileScopes(2000),
		"1100 scp entries":    hostileScp(1100),
		"nested duplicates":   `{"iss":"https://idp.example","r":{"a":1,"a":2}}`,
		"many short members":  `{` + strings.Repeat(`"a":1,`, 1000) + `"iss":"https://idp.example"}`,
		"second iss":          `{"iss":"https://idp.example","exp":1,"i\u0073s":"https://evil.example"}`,
		"malformed after iss": `{"iss":"https://idp.example","exp":1,}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verifyAndCheck(t, forge(t, payload), &Policy{Issuers: []string{"https://idp.example"}}, staticKeys(set))
			var te *Error
			if !errors.As(err, &te) || te.Reason != ReasonSignature {
				t.Fatalf("err = %v, want a signature failure", err)
			}
		})
	}
	// What routing needs is still checked before any key is touched.
	resolverCalled := false
	keys := func(string) (KeyResolver, error) { resolverCalled = true; return set, nil }
	for name, tc := range map[string]struct {
		payload string
		reason  Reason
	}{
		"untrusted iss":     {strings.Replace(hostileScopes(10), "idp.example", "evil.example", 1), ReasonIssuer},
		"iss not a string":  {`{"iss":1,"exp":1}`, ReasonClaims},
		"escaped untrusted": {`{"exp":1,"i\u0073s":"https://evil.example","iss":"https://idp.example"}`, ReasonIssuer},
		"malformed JSON":    {`{"exp":1,,"iss":"https://idp.example"}`, ReasonMalformed},
		"not an object":     {`["iss"]`, ReasonMalformed},
		"invalid UTF-8":     {"{\"x\":\"\xff\",\"iss\":\"https://idp.example\"}", ReasonMalformed},
		"too deeply nested": {`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `,"iss":"https://idp.example"}`, ReasonMalformed},
		"no iss":            {`{"exp":1}`, ReasonIssuer},
	} {
		t.Run(name, func(t *testing.T) {
			resolverCalled = false
			_, err := verifyAndCheck(t, forge(t, tc.payload), &Policy{Issuers: []string{"https://idp.example"}}, keys)
			var te *Error
			if !errors.As(err, &te) || te.Reason != tc.reason {
				t.Fatalf("err = %v, want %s", err, tc.reason)
			}
			if resolverCalled {
				t.Fatal("keys were looked up for a token refused before the signature")
			}
		})
	}
}

// What the scan before the signature skipped is checked after it.
func TestSignedTokenStrictlyParsed(t *testing.T) {
	k := newTestKeys(t)
	for name, payload := range map[string]string{
		"second iss":              fmt.Sprintf(`{"iss":"https://idp.example","exp":%d,"i\u0073s":"https://evil.example"}`, testNow.Unix()+60),
		"malformed after iss":     fmt.Sprintf(`{"iss":"https://idp.example","exp":%d,}`, testNow.Unix()+60),
		"invalid UTF-8 after iss": fmt.Sprintf("{\"iss\":\"https://idp.example\",\"exp\":%d,\"x\":\"\xff\"}", testNow.Unix()+60),
	} {
		tok := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, payload)
		_, err := verifyAndCheck(t, tok, &Policy{Issuers: []string{"https://idp.example"}}, staticKeys(k.set(t)))
		var te *Error
		if !errors.As(err, &te) || te.Reason != ReasonMalformed {
			t.Errorf("%s: err = %v, want malformed", name, err)
		}
	}
}

// hostileHeader is a JOSE header of about n bytes made of short escaped
// member names, each of which must be decoded for the duplicate check.
func hostileHeader(n int) string {
	var b strings.Builder
	b.WriteString(`{"alg":"ES256","kid":"ec1"`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `,"\u%04x%s":1`, 0x41+i%26, scopeName(i))
	}
	return b.String() + "}"
}

// The header is parsed before the signature: more than 16 members in any
// of its objects is refused at once, so a forged 6 KB header cannot buy
// hundreds of name decodings (on the original code it cost ~0.6 ms).
func TestHeaderMembersBounded(t *testing.T) {
	k := newTestKeys(t)
	set := k.set(t)
	for name, hdr := range map[string]string{
		"many escaped names":  hostileHeader(5800),
		"17 members":          `{"alg":"ES256","kid":"ec1","a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1}`,
		"many nested objects": `{"alg":"ES256","kid":"ec1","x":[` + strings.Repeat(`{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1},`, 3) + `1]}`,
	} {
		_, err := verifyAndCheck(t, signRaw(t, ES256, k.ec, hdr, claimsJSON("")), &Policy{}, staticKeys(set))
		var te *Error
		if !errors.As(err, &te) || te.Reason != ReasonMalformed || !strings.Contains(te.Description, "too many members") {
			t.Errorf("%s: err = %v, want a malformed header with too many members", name, err)
		}
	}
	ok := `{"alg":"ES256","kid":"ec1","typ":"at+jwt","x5t":"a","x5t#S256":"b","x5c":["c","d"],"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1}`
	if _, err := verifyAndCheck(t, signRaw(t, ES256, k.ec, ok, claimsJSON("")), &Policy{}, staticKeys(set)); err != nil {
		t.Fatalf("16-member header refused: %v", err)
	}
}

func TestEscapedIssIsRouted(t *testing.T) {
	k := newTestKeys(t)
	tok := signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, fmt.Sprintf(`{"\u0069s\u0073":"https://idp.\u0065xample","exp":%d}`, testNow.Unix()+60))
	c, err := verifyAndCheck(t, tok, &Policy{Issuers: []string{"https://idp.example"}}, staticKeys(k.set(t)))
	if err != nil || c.Issuer != "https://idp.example" {
		t.Fatalf("c = %+v, err = %v", c, err)
	}
}

func TestScopesDeduplicatedLinearly(t *testing.T) {
	k := newTestKeys(t)
	payload := strings.Replace(hostileScopes(1990), `"scope":"`, `"scp":["b","X","a"],"scope":"a X `, 1)
	c, err := verifyAndCheck(t, signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, payload), &Policy{}, staticKeys(k.set(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Scopes) != 1990 || c.Scopes[0] != "b" || c.Scopes[1] != "X" || c.Scopes[2] != "a" {
		t.Fatalf("%d scopes, first %v", len(c.Scopes), c.Scopes[:3])
	}
	for _, tc := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{"a", "b", "a"}, []string{"a", "b"}},
		{strings.Fields(strings.Repeat("a b c ", 10)), []string{"a", "b", "c"}},
	} {
		if got := dedupScopes(tc.in); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("dedupScopes(%v) = %v", tc.in, got)
		}
	}
}

// Member names that differ only in invalid UTF-8 bytes would both read as
// "role\uFFFD" through encoding/json after passing the duplicate check:
// invalid UTF-8 and unpaired surrogates are refused in names and values.
func TestInvalidUnicodeRefused(t *testing.T) {
	k := newTestKeys(t)
	set := k.set(t)
	sign := func(extra string) string {
		return signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(extra))
	}
	for name, extra := range map[string]string{
		"names differing in invalid bytes": "\"role\xff\":\"user\",\"role\xfe\":\"admin\"",
		"invalid byte in a value":          "\"role\":\"adm\xffin\"",
		"truncated sequence":               "\"role\":\"\xe2\x82\"",
		"overlong encoding":                "\"role\":\"\xc0\xaf\"",
		"encoded surrogate":                "\"role\":\"\xed\xa0\x80\"",
		"lone high surrogate escape":       `"role\ud800":"admin"`,
		"lone low surrogate escape":        `"role":"\udc00"`,
		"reversed surrogate pair":          `"role":"\udc00\ud800"`,
		"invalid byte in a nested value":   "\"realm\":{\"roles\":[\"\xff\"]}",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verifyAndCheck(t, sign(extra), &Policy{}, staticKeys(set))
			var te *Error
			if !errors.As(err, &te) || te.Reason != ReasonMalformed {
				t.Fatalf("err = %v, want malformed", err)
			}
		})
	}
	if _, err := verifyAndCheck(t, signRaw(t, ES256, k.ec, "{\"alg\":\"ES256\",\"kid\":\"ec\xff\"}", claimsJSON("")), &Policy{}, staticKeys(set)); err == nil {
		t.Fatal("invalid UTF-8 in the header accepted")
	}
	c, err := verifyAndCheck(t, sign(`"role":"\ud83d\ude00 é �","r\u00f4le":"ok"`), &Policy{}, staticKeys(set))
	if err != nil {
		t.Fatalf("valid Unicode refused: %v", err)
	}
	if v, _ := c.Claim("role"); v != "😀 é \uFFFD" {
		t.Fatalf("role = %q", v)
	}
}

// A flat claim whose name contains dots never shadows the nested path:
// nested wins.
func TestClaimPathNestedWins(t *testing.T) {
	k := newTestKeys(t)
	for _, tc := range []struct {
		name, extra, path string
		want              any // nil: absent
	}{
		{"flat and nested", `"realm_access.roles":["admin"],"realm_access":{"roles":["user"]}`, "realm_access.roles", "[user]"},
		{"flat after nested", `"realm_access":{"roles":["user"]},"realm_access.roles":["admin"]`, "realm_access.roles", "[user]"},
		{"object without the member", `"realm_access":{"other":1},"realm_access.roles":["admin"]`, "realm_access.roles", nil},
		{"flat only", `"realm_access.roles":["admin"]`, "realm_access.roles", "[admin]"},
		{"prefix is not an object", `"a":"x","a.b":"flat"`, "a.b", "flat"},
		{"Auth0 namespaced claim", `"https://app.example.com/roles":["admin"]`, "https://app.example.com/roles", "[admin]"},
		{"inner dotted name", `"a":{"b.c":1}`, "a.b.c", "1"},
		{"inner nested wins", `"a":{"b.c":1,"b":{"c":2}}`, "a.b.c", "2"},
		{"deep", `"a":{"b":{"c":{"d":"deep"}}},"a.b.c.d":"flat"`, "a.b.c.d", "deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verifyAndCheck(t, signRaw(t, ES256, k.ec, `{"alg":"ES256","kid":"ec1"}`, claimsJSON(tc.extra)), &Policy{}, staticKeys(k.set(t)))
			if err != nil {
				t.Fatal(err)
			}
			v, ok := c.Claim(tc.path)
			if tc.want == nil {
				if ok {
					t.Fatalf("%s = %v, want absent", tc.path, v)
				}
				return
			}
			if !ok || fmt.Sprint(v) != tc.want {
				t.Fatalf("%s = %v (%v), want %v", tc.path, v, ok, tc.want)
			}
		})
	}
}

// RFC 9068 typ: require_typ accepts only at+jwt (application/ optional, any
// case); without it a typ naming another kind of JWT is still refused. The
// check also runs in Policy.Check, for tokens from a shared cache.
func TestTypChecking(t *testing.T) {
	k := newTestKeys(t)
	set := k.set(t)
	tok := func(typ string) string {
		h := `{"alg":"ES256","kid":"ec1"}`
		if typ != "" {
			h = fmt.Sprintf(`{"alg":"ES256","kid":"ec1","typ":%q}`, typ)
		}
		return signRaw(t, ES256, k.ec, h, claimsJSON(""))
	}
	for _, tc := range []struct {
		typ               string
		required, relaxed bool // accepted with / without RequireTyp
	}{
		{"at+jwt", true, true},
		{"application/at+jwt", true, true},
		{"AT+JWT", true, true},
		{"Application/At+Jwt", true, true},
		{"JWT", false, true},
		{"", false, true},
		{"jwt", false, true},
		{"logout+jwt", false, false},
		{"secevent+jwt", false, false},
		{"application/dpop+jwt", false, false},
		{"id_token+JWT", false, false},
		{"at+jwt2", false, true},
		{"application/", false, true},
	} {
		for _, require := range []bool{true, false} {
			_, err := verifyAndCheck(t, tok(tc.typ), &Policy{RequireTyp: require}, staticKeys(set))
			want := tc.relaxed
			if require {
				want = tc.required
			}
			if (err == nil) != want {
				t.Errorf("typ %q, require_typ %v: err = %v, want accepted = %v", tc.typ, require, err, want)
			}
			var te *Error
			if err != nil && (!errors.As(err, &te) || te.Reason != ReasonType) {
				t.Errorf("typ %q: reason %v, want %s", tc.typ, err, ReasonType)
			}
		}
	}
	// A token verified under a relaxed policy (and cached) is refused by a
	// route that requires the typ.
	c, err := verifyAndCheck(t, tok("JWT"), &Policy{}, staticKeys(set))
	if err != nil {
		t.Fatal(err)
	}
	if e := (&Policy{RequireTyp: true}).Check(c, testNow); e == nil || e.Reason != ReasonType {
		t.Fatalf("Check with RequireTyp = %v", e)
	}
	if e := (&Policy{RequireTyp: true}).Check(&Claims{ExpiresAt: testNow.Unix() + 60}, testNow); e != nil {
		t.Fatalf("opaque token (no alg) refused: %v", e)
	}
}
