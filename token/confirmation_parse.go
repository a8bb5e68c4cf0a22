package token

import "errors"

// maxConfirmationBytes bounds the cnf claim: two thumbprints and some
// members we ignore fit easily.
const maxConfirmationBytes = 1024

var errConfirmation = errors.New("cnf is not an object of string thumbprints")

// parseConfirmation decodes the cnf claim (RFC 7800 §3.1): an object whose
// x5t#S256 and jkt members, when present, are strings. Other confirmation
// methods (jwk, jku, kid) are kept out: a token whose only cnf member is
// one we do not implement is still recognised as bound (an empty
// Confirmation), so a gateway never treats it as a plain bearer token.
func parseConfirmation(raw []byte) (*Confirmation, error) {
	if len(raw) > maxConfirmationBytes || raw[0] != '{' {
		return nil, errConfirmation
	}
	c := &Confirmation{}
	err := eachMember(raw, func(name, value []byte) error {
		var err error
		switch string(name) {
		case "x5t#S256":
			c.X5TS256, err = stringClaim(value)
		case "jkt":
			c.JKT, err = stringClaim(value)
		}
		return err
	})
	if err != nil {
		return nil, errConfirmation
	}
	return c, nil
}

// Unknown reports a cnf with none of the members authgate knows: a token
// bound in a way no binding step can check, which a gateway refuses.
func (c *Confirmation) Unknown() bool {
	return c != nil && c.X5TS256 == "" && c.JKT == ""
}

// raw is the confirmation as Claims.Raw shows it.
func (c *Confirmation) raw() map[string]any {
	m := map[string]any{}
	if c.X5TS256 != "" {
		m["x5t#S256"] = c.X5TS256
	}
	if c.JKT != "" {
		m["jkt"] = c.JKT
	}
	return m
}
