package token

// header is the part of a JOSE header the verifier acts on.
type header struct {
	alg string
	kid string
	typ string // "" when absent
}

// Header parameters that make a token unacceptable here: keys or key URLs
// carried by the token itself (never followed: the token would pick its own
// verifier), critical extensions we do not implement, unencoded payloads,
// and JWE/nesting markers.
var forbiddenHeaders = [...]string{"jku", "x5u", "jwk", "crit", "b64", "enc", "zip"}

func parseHeader(data []byte) (header, *Error) {
	var h header
	var algSeen bool
	err := eachHeaderMember(data, func(name, value []byte) error {
		for _, f := range forbiddenHeaders {
			if string(name) == f {
				return reject(ReasonHeader, "header parameter %q is not accepted", f)
			}
		}
		switch string(name) {
		case "alg":
			algSeen = true
			h.alg = algName(value)
			if h.alg == "" {
				return reject(ReasonAlgorithm, "unsupported algorithm %s", printable(value))
			}
		case "kid":
			if value[0] != '"' {
				return reject(ReasonMalformed, "kid is not a string")
			}
			kid, err := unquote(value)
			if err != nil {
				return err
			}
			h.kid = kid
		case "typ":
			if value[0] != '"' {
				return reject(ReasonMalformed, "typ is not a string")
			}
			switch string(value) { // the common values, without allocating
			case `"` + TypAccessToken + `"`:
				h.typ = TypAccessToken
			case `"` + TypJWT + `"`:
				h.typ = TypJWT
			default:
				typ, err := unquote(value)
				if err != nil {
					return err
				}
				h.typ = typ
			}
		case "cty":
			// RFC 7519 §5.2: cty "JWT" marks a nested token.
			if cty, _ := unquote(value); cty == "JWT" || cty == "jwt" {
				return reject(ReasonMalformed, "nested tokens are not accepted")
			}
		}
		return nil
	})
	if err != nil {
		if e, ok := err.(*Error); ok {
			return h, e
		}
		return h, reject(ReasonMalformed, "header is not a valid JSON object (%v)", err)
	}
	if !algSeen {
		return h, reject(ReasonMalformed, "header has no alg")
	}
	return h, nil
}

// algName maps a raw JSON alg value to its constant, without allocating.
// "none" and anything unknown map to "".
func algName(raw []byte) string {
	for _, a := range [...]string{ES256, RS256, EdDSA, HS256, ES384, ES512, RS384, RS512, PS256, PS384, PS512, HS384, HS512} {
		if len(raw) == len(a)+2 && raw[0] == '"' && string(raw[1:len(raw)-1]) == a {
			return a
		}
	}
	return ""
}

// printable renders a short, safe excerpt of attacker-supplied JSON for an
// error description.
func printable(raw []byte) string {
	const max = 32
	out := make([]byte, 0, max)
	for _, c := range raw {
		if len(out) == max {
			return string(out) + "…"
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}
