package token

import "errors"

// scanIssuer is all the claims work done before the signature is checked:
// it reads the payload's top-level members up to the first "iss", checking
// their JSON syntax on the way (an object, strings valid Unicode, depth
// bounded), and decodes nothing but that "iss", which picks the issuer's
// keys. It allocates nothing (unless "iss" itself is escaped) and does the
// same constant work per byte read whatever the payload holds, so an
// unsigned token buys no more than its length; an ordinary token, whose
// "iss" comes first, costs a few dozen bytes. The rest of the payload is
// checked by parseClaims once the signature verified: syntax, duplicate
// names (a second "iss" included), claim types, scopes.
func scanIssuer(payload []byte) (string, error) {
	s := scanner{data: payload, noDup: true}
	var iss string
	err := s.topObject(func(name, value []byte) error {
		if !nameIs(name, "iss") {
			return nil
		}
		if value[0] != '"' {
			return reject(ReasonClaims, "claim %q has the wrong type", "iss")
		}
		var err error
		if iss, err = unquoteRef(value); err != nil {
			return err
		}
		return errFound
	})
	if err == errFound {
		return iss, nil
	}
	return iss, err // no "iss" at all: "", or the syntax error
}

// errFound stops scanIssuer's walk once "iss" is read.
var errFound = errors.New("found")

func nameIs(quoted []byte, want string) bool {
	raw := quoted[1 : len(quoted)-1]
	if len(raw) == len(want) {
		return string(raw) == want
	}
	if len(raw) > 6*len(want) || !hasEscape(raw) {
		return false
	}
	j := 0
	for i := 0; i < len(raw); j++ {
		if j == len(want) {
			return false
		}
		c := raw[i]
		if c != '\\' {
			if c != want[j] {
				return false
			}
			i++
			continue
		}
		var r rune
		switch raw[i+1] {
		case 'u':
			var ok bool
			if r, ok = hex4(raw, i); !ok {
				return false
			}
			i += 6
		case '"', '\\', '/':
			r = rune(raw[i+1])
			i += 2
		default: // \b \f \n \r \t: never in want
			return false
		}
		if r != rune(want[j]) {
			return false
		}
	}
	return j == len(want)
}
