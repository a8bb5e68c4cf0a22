package token

// parseConfirmation decodes a "cnf" claim (RFC 7800 §3.1): an object whose
// known members (jkt, x5t#S256) must be strings; other confirmation methods
// are kept out of the typed value (a token bound by a method authgate does
// not check is refused by the gateway's binding step, see IsBound).
func parseConfirmation(raw []byte) (*Confirmation, error) {
	if raw[0] != '{' {
		return nil, errType
	}
	var c Confirmation
	other := false
	err := eachMember(raw, func(name, value []byte) error {
		var dst *string
		switch string(name) {
		case "jkt":
			dst = &c.JKT
		case "x5t#S256":
			dst = &c.X5TS256
		default:
			other = true
			return nil
		}
		if value[0] != '"' {
			return errType
		}
		s, err := unquote(value)
		if err != nil || s == "" {
			return errType
		}
		*dst = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	if other && c.JKT == "" && c.X5TS256 == "" {
		// Bound by a method we do not know (jwk, kid, ...): keep a marker
		// so the token is never taken for a bearer token.
		return &Confirmation{}, nil
	}
	return &c, nil
}

// raw is the claim as a JSON-like map (Claims.Raw for opaque tokens).
func (c *Confirmation) raw() map[string]any {
	m := map[string]any{}
	if c.JKT != "" {
		m["jkt"] = c.JKT
	}
	if c.X5TS256 != "" {
		m["x5t#S256"] = c.X5TS256
	}
	return m
}
