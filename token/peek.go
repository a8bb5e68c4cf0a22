package token

import "strings"

// PeekJWT decodes, without verifying anything, what routing a JWT needs
// before its signature can be checked: the header's alg and kid and the
// payload's iss. It is bounded like VerifySignature (size first, then a
// linear scan); the token is not trusted by it. A client assertion's iss
// names the client whose keys verify it.
func PeekJWT(tok string, maxBytes int) (alg, kid, iss string, err error) {
	if len(tok) > maxBytes {
		return "", "", "", reject(ReasonOversized, "token exceeds %d bytes", maxBytes)
	}
	dot1 := strings.IndexByte(tok, '.')
	if dot1 < 0 {
		return "", "", "", reject(ReasonMalformed, "not a JWT")
	}
	rest := tok[dot1+1:]
	dot2 := strings.IndexByte(rest, '.')
	if dot2 < 0 || strings.IndexByte(rest[dot2+1:], '.') >= 0 {
		return "", "", "", reject(ReasonMalformed, "not a compact JWS")
	}
	var hbuf [512]byte
	hdr, derr := decodeSegment(hbuf[:0], tok[:dot1])
	if derr != nil {
		return "", "", "", reject(ReasonMalformed, "header is not base64url")
	}
	h, rerr := parseHeader(hdr)
	if rerr != nil {
		return "", "", "", rerr
	}
	payload, derr := decodeSegment(nil, rest[:dot2])
	if derr != nil {
		return "", "", "", reject(ReasonMalformed, "payload is not base64url")
	}
	iss, serr := scanIssuer(payload)
	if serr != nil {
		return "", "", "", reject(ReasonMalformed, "claims are not a valid JSON object")
	}
	return h.alg, h.kid, iss, nil
}
