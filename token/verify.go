package token

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"unsafe"
)

// DefaultMaxTokenBytes is the largest token accepted; longer ones are refused
// before any decoding work.
const DefaultMaxTokenBytes = 8 << 10

var b64 = base64.RawURLEncoding.Strict()

// IssuerKeys returns the key resolver for a token's issuer. It is called with
// the unverified "iss" only after the policy accepted that issuer, so a token
// cannot make the gateway contact an issuer it was not configured to trust.
type IssuerKeys func(iss string) (KeyResolver, error)

// VerifySignature checks a compact JWS token's structure, header and
// signature, and decodes its claims. It applies the parts of policy that must
// run before any key is used: size, algorithm allow-list, typ and issuer.
// Before the signature is verified only the header and "iss" are decoded, in
// time linear in the token's size; the claims are parsed (strictly: types,
// duplicate names, valid Unicode) only once the signature verified. It does
// not check time, audience or scopes: Policy.Check does, on every request,
// including those served from the verified-token cache.
func VerifySignature(ctx context.Context, tok string, p *Policy, keys IssuerKeys) (*Claims, error) {
	if len(tok) > p.MaxBytes() {
		return nil, reject(ReasonOversized, "token exceeds %d bytes", p.MaxBytes())
	}
	dot1 := strings.IndexByte(tok, '.')
	if dot1 < 0 {
		return nil, reject(ReasonMalformed, "not a JWT")
	}
	dot2 := dot1 + 1 + strings.IndexByte(tok[dot1+1:], '.')
	if dot2 <= dot1 {
		return nil, reject(ReasonMalformed, "not a JWT")
	}
	if strings.IndexByte(tok[dot2+1:], '.') >= 0 {
		return nil, reject(ReasonMalformed, "encrypted (JWE) or nested tokens are not accepted")
	}

	var hbuf [512]byte
	hdr, err := decodeSegment(hbuf[:0], tok[:dot1])
	if err != nil {
		return nil, reject(ReasonMalformed, "header is not base64url")
	}
	h, rerr := parseHeader(hdr)
	if rerr != nil {
		return nil, rerr
	}
	if !p.allowsAlg(h.alg) {
		return nil, reject(ReasonAlgorithm, "algorithm %s is not allowed", h.alg)
	}

	if rerr := p.checkTyp(h.alg, h.typ); rerr != nil {
		return nil, rerr
	}

	// Before the signature only "iss" is decoded (it picks the keys), by a
	// linear, allocation-free syntax scan; the claims are parsed afterwards.
	payload, err := decodeSegment(nil, tok[dot1+1:dot2])
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not base64url")
	}
	iss, err := scanIssuer(payload)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, reject(ReasonMalformed, "claims are not a valid JSON object (%v)", err)
	}
	if !p.acceptsIssuer(iss) {
		return nil, reject(ReasonIssuer, "issuer %q is not accepted", printable([]byte(iss)))
	}
	resolver, err := keys(iss)
	if err != nil {
		return nil, keyError(err)
	}
	candidates, unavailable := resolver.ResolveKeys(ctx, h.kid, h.alg)
	if unavailable != nil && (len(candidates) == 0 || !errors.Is(unavailable, ErrKeysUnavailable)) {
		return nil, keyError(unavailable)
	}

	var sbuf [1024]byte
	sig, err := decodeSegment(sbuf[:0], tok[dot2+1:])
	if err != nil {
		return nil, reject(ReasonMalformed, "signature is not base64url")
	}
	if len(sig) == 0 {
		return nil, reject(ReasonSignature, "token has no signature")
	}
	signingInput := tok[:dot2]
	for i, k := range candidates {
		if i == MaxKidlessCandidates && h.kid == "" {
			break
		}
		if !k.Allows(h.alg) || k.Retired() {
			continue // defence in depth: a resolver must not widen the policy
		}
		if k.verify(h.alg, readOnlyBytes(signingInput), sig) {
			return verifiedClaims(payload, iss, h, k)
		}
	}
	if unavailable != nil { // fallback keys failed; the token's own key may be in the set we lack
		return nil, keyError(unavailable)
	}
	return nil, reject(ReasonSignature, "signature verification failed")
}

// verifiedClaims parses the claims of a token whose signature key verified.
func verifiedClaims(payload []byte, iss string, h header, k *Key) (*Claims, error) {
	c, rerr := parseClaims(payload)
	if rerr != nil {
		return nil, rerr
	}
	if c.Issuer != iss { // cannot happen: one iss, decoded alike; checked anyway
		return nil, reject(ReasonMalformed, "claims are ambiguous")
	}
	c.Alg, c.Typ, c.Key = h.alg, h.typ, k
	return c, nil
}

func keyError(err error) *Error {
	switch {
	case errors.Is(err, ErrKeysUnavailable):
		return &Error{Reason: ReasonKeysUnavailable, Description: "signing keys are temporarily unavailable", Err: err}
	case errors.Is(err, ErrUnknownKey):
		return &Error{Reason: ReasonUnknownKey, Description: "no key matches the token's kid and algorithm", Err: err}
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return &Error{Reason: ReasonKeysUnavailable, Description: "signing keys are temporarily unavailable", Err: err}
}

// decodeSegment decodes one base64url segment, appending to dst when it has
// room (so short segments decode onto the caller's stack).
func decodeSegment(dst []byte, seg string) ([]byte, error) {
	n := b64.DecodedLen(len(seg))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := b64.Decode(dst, readOnlyBytes(seg))
	return dst[:m], err
}

// readOnlyBytes views a string as bytes without copying. The callers only
// read (hash, decode) the result; the token can be ~8 KiB and is on the hot path.
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
