package issuer

import (
	"strconv"
	"unicode/utf8"

	"github.com/authgate/caddy-authgate/token"
)

// The token endpoint's two hot encodings (the access token's claims and the
// token response) are appended by hand: encoding/json's reflection was 4 %
// of a token's CPU (BenchmarkTokenEncoding, README "Benchmarks"). The output
// is byte for byte what json.Marshal gives for the same struct
// (FuzzAppendJSONEquivalence); every other answer keeps json.Marshal.

// appendAccessClaims appends accessClaims' encoding, as json.Marshal would.
func appendAccessClaims(b []byte, ac *accessClaims) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, ac.Issuer)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, ac.Subject)
	if len(ac.Audience) > 0 {
		b = append(b, `,"aud":`...)
		b = appendAudience(b, ac.Audience)
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, ac.Expires, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, ac.IssuedAt, 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, ac.JTI)
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, ac.ClientID)
	if ac.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, ac.Scope)
	}
	if ac.Cnf != nil {
		b = append(b, `,"cnf":`...)
		b = appendConfirmation(b, ac.Cnf)
	}
	if ac.AuthTime != 0 {
		b = append(b, `,"auth_time":`...)
		b = strconv.AppendInt(b, ac.AuthTime, 10)
	}
	return append(b, '}')
}

// appendAudience is audience.MarshalJSON: one member a string, else an
// array (nil encodes null, as json.Marshal of a nil slice).
func appendAudience(b []byte, a audience) []byte {
	switch {
	case len(a) == 1:
		return appendJSONString(b, a[0])
	case a == nil:
		return append(b, "null"...)
	}
	b = append(b, '[')
	for k, s := range a {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendConfirmation(b []byte, c *token.Confirmation) []byte {
	b = append(b, '{')
	sep := false
	if c.X5TS256 != "" {
		b = append(b, `"x5t#S256":`...)
		b = appendJSONString(b, c.X5TS256)
		sep = true
	}
	if c.JKT != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"jkt":`...)
		b = appendJSONString(b, c.JKT)
	}
	return append(b, '}')
}

// appendTokenResponse appends tokenResponse's encoding, as json.Marshal
// would.
func appendTokenResponse(b []byte, r *tokenResponse) []byte {
	b = append(b, `{"access_token":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	for _, f := range [...]struct{ name, v string }{
		{`,"scope":`, r.Scope},
		{`,"issued_token_type":`, r.IssuedTokenType},
		{`,"refresh_token":`, r.RefreshToken},
		{`,"id_token":`, r.IDToken},
	} {
		if f.v != "" {
			b = append(b, f.name...)
			b = appendJSONString(b, f.v)
		}
	}
	return append(b, '}')
}

// jsonSafe marks the bytes encoding/json copies as they are: ASCII from
// 0x20 but '"', '\\' and HTML's < > &.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// jsonHex is encoding/json's hex alphabet for \u escapes.
const jsonHex = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// encodes it (HTML escaping on): '"' and '\\' escaped, \b \f \n \r \t short,
// other control bytes and < > & as \u00XX, U+2028 and U+2029 as \u2028 and
// \u2029, and each byte of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', jsonHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
