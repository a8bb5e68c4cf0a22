package token

// ParseClaims decodes a JSON claims object (strictly, like a verified
// token's payload: types, duplicate names, valid Unicode; exp required) into
// Claims. It is for claims the caller already trusts, e.g. a browser
// session's identity assembled from a verified ID token and userinfo; it
// verifies nothing.
func ParseClaims(payload []byte) (*Claims, error) {
	c, err := parseClaims(append([]byte(nil), payload...))
	if err != nil {
		return nil, err
	}
	return c, nil
}
