package token

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DPoP (RFC 9449) proof verification, shared by the issuer's token endpoint
// and the gateway. A proof is a JWS whose header carries its own public key
// (`jwk`); the proof is only worth something bound to a token (cnf.jkt), a
// request (htm, htu), a moment (iat) and, at a resource server, the token
// itself (ath). Before the signature only the header is decoded (it holds
// the key); the claims are parsed once the signature verified.

// DPoP limits and defaults.
const (
	// MaxDPoPProofBytes bounds a proof; longer ones are refused before any
	// decoding. An RSA-4096 proof is about 2.5 KiB.
	MaxDPoPProofBytes = 8 << 10
	// DefaultDPoPMaxAge is how old (by iat) a proof may be.
	DefaultDPoPMaxAge = 60 * time.Second
	// DefaultDPoPLeeway is the clock skew tolerated on iat, both ways.
	DefaultDPoPLeeway = 5 * time.Second
	// MaxDPoPWindow bounds MaxAge and Leeway each: a proof is a replayable
	// credential for as long as it is accepted, and its jti is remembered
	// that long.
	MaxDPoPWindow = 5 * time.Minute
	// MaxDPoPRSABits bounds an RSA proof key (verification cost grows with
	// the modulus).
	MaxDPoPRSABits = 4096
	// maxDPoPClaimBytes bounds jti, nonce, htm and the decoded htu.
	maxDPoPClaimBytes = 2048
)

// TypDPoP is the JOSE typ of a DPoP proof.
const TypDPoP = "dpop+jwt"

// DefaultDPoPAlgorithms are the proof algorithms accepted by default: every
// asymmetric algorithm authgate implements (never HMAC, never none).
var DefaultDPoPAlgorithms = []string{ES256, ES384, ES512, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512}

// Rejection reasons of DPoP proofs.
const (
	// ReasonDPoPProof: the proof is missing, malformed, badly signed, for
	// another request, too old or too new.
	ReasonDPoPProof Reason = "dpop_proof"
	// ReasonDPoPNonce: the proof lacks the server's current nonce.
	ReasonDPoPNonce Reason = "dpop_nonce"
	// ReasonDPoPReplay: the proof's jti was seen before.
	ReasonDPoPReplay Reason = "dpop_replay"
	// ReasonDPoPKey: the proof is valid but made with another key than
	// the one the token is bound to.
	ReasonDPoPKey Reason = "dpop_key_mismatch"
	// ReasonDPoPUnavailable: the replay store could not be asked (fail
	// closed: the proof is refused, the client may retry).
	ReasonDPoPUnavailable Reason = "dpop_replay_unavailable"
)

// ReplayMarker records single-use values: store.ReplayStore implements it,
// and so does the gateway's in-memory replay cache.
type ReplayMarker interface {
	// MarkUsed records key until `until`; first is false when it was
	// already recorded and has not expired.
	MarkUsed(ctx context.Context, key string, until time.Time) (first bool, err error)
}

// CheckDPoPAlgorithms validates a configured proof algorithm list: known,
// asymmetric algorithms only.
func CheckDPoPAlgorithms(algs []string) error {
	for _, a := range algs {
		if !KnownAlgorithm(a) || IsHMAC(a) {
			return fmt.Errorf("DPoP proof algorithm %q is not supported (supported: %s)", a, strings.Join(DefaultDPoPAlgorithms, " "))
		}
	}
	return nil
}

// DPoPVerifier checks DPoP proofs. The zero value of each field is its
// default except Replay, which is required.
type DPoPVerifier struct {
	// Algorithms accepted in proofs; nil means DefaultDPoPAlgorithms.
	Algorithms []string
	// MaxAge of a proof by its iat; 0 means DefaultDPoPMaxAge.
	MaxAge time.Duration
	// Leeway on iat, both ways; 0 means DefaultDPoPLeeway.
	Leeway time.Duration
	// Replay records each proof's jti (per key) while the proof could be
	// accepted.
	Replay ReplayMarker
	// Scope namespaces the replay markers (two verifiers sharing a store
	// but guarding different targets need not share jtis).
	Scope string
	// Keys, when set, caches the keys of recent proof headers.
	Keys *DPoPKeyCache
}

// DPoPRequest is what a proof must match.
type DPoPRequest struct {
	// Method is the request's method (htm).
	Method string
	// URL is the request's target URI (htu); both are compared normalised
	// (NormalizeHTU).
	URL string
	// AccessToken, when set, is the token presented with the proof: the
	// proof's ath must be its hash (resource servers). Empty at the token
	// endpoint.
	AccessToken string
	// Nonce, when set, judges the proof's nonce claim ("" when absent);
	// nil means no server nonce is required.
	Nonce func(nonce string) bool
	// JKT, when set, is the thumbprint the proof key must have (the
	// token's cnf.jkt). It is checked before the jti is recorded, so a
	// stolen token with a proof of the thief's own key spends nothing.
	JKT string
	// Now is the request's time.
	Now time.Time
}

// DPoPProof is a verified proof.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof key, base64url.
	JKT string
	// Alg signed the proof.
	Alg string
	// JTI is the proof's unique id.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt int64
}

// Validate checks the verifier's configuration.
func (v *DPoPVerifier) Validate() error {
	if v.Replay == nil {
		return errors.New("DPoP: a replay store is required")
	}
	if v.MaxAge < 0 || v.MaxAge > MaxDPoPWindow || v.Leeway < 0 || v.Leeway > MaxDPoPWindow {
		return fmt.Errorf("DPoP: proof max age and leeway must each be between 0 and %s", MaxDPoPWindow)
	}
	return CheckDPoPAlgorithms(v.Algorithms)
}

// AlgorithmList is the accepted algorithms, space-separated (the algs
// parameter of a DPoP challenge, and the issuer's metadata).
func (v *DPoPVerifier) AlgorithmList() []string {
	if v.Algorithms == nil {
		return DefaultDPoPAlgorithms
	}
	return v.Algorithms
}

func (v *DPoPVerifier) maxAge() time.Duration {
	if v.MaxAge == 0 {
		return DefaultDPoPMaxAge
	}
	return v.MaxAge
}

func (v *DPoPVerifier) leeway() time.Duration {
	if v.Leeway == 0 {
		return DefaultDPoPLeeway
	}
	return v.Leeway
}

func dpopError(format string, args ...any) *Error {
	return reject(ReasonDPoPProof, format, args...)
}

// Verify checks one proof for req: structure and header, key, signature,
// then the claims (htm, htu, iat, ath, nonce) and last the jti's single use,
// so a proof refused for any other reason never spends its jti. Errors are
// *Error with a ReasonDPoP* reason.
func (v *DPoPVerifier) Verify(ctx context.Context, proof string, req DPoPRequest) (*DPoPProof, error) {
	p, payloadSeg, err := v.verifySignature(proof)
	if err != nil {
		return nil, err
	}
	// Exactly sized: a stack buffer would escape anyway (the JSON walker
	// hands views of it to a callback).
	payload, derr := decodeSegment(nil, payloadSeg)
	if derr != nil {
		return nil, dpopError("proof payload is not base64url")
	}
	c, err := parseDPoPClaims(payload)
	if err != nil {
		return nil, err
	}
	if c.htm != req.Method {
		return nil, dpopError("htm does not match the request method")
	}
	if c.htu != req.URL { // the same string is the same URI, normalised or not
		want, ok := NormalizeHTU(req.URL)
		if !ok {
			return nil, dpopError("the request URI cannot be compared")
		}
		if got, ok := NormalizeHTU(c.htu); !ok || got != want {
			return nil, dpopError("htu does not match the request URI")
		}
	}
	now := req.Now.Unix()
	leeway := int64((v.leeway() + time.Second - 1) / time.Second)
	maxAge := int64(v.maxAge() / time.Second)
	if c.iat > now+leeway {
		return nil, dpopError("proof iat is in the future")
	}
	if c.iat < now-maxAge-leeway {
		return nil, dpopError("proof is too old")
	}
	if req.AccessToken != "" {
		if c.ath == "" {
			return nil, dpopError("proof has no ath")
		}
		if !athMatches(c.ath, req.AccessToken) {
			return nil, dpopError("ath does not match the access token")
		}
	}
	if req.Nonce != nil && !req.Nonce(c.nonce) {
		return nil, reject(ReasonDPoPNonce, "proof lacks the current server nonce")
	}
	if req.JKT != "" && p.JKT != req.JKT {
		return nil, reject(ReasonDPoPKey, "DPoP proof key is not the key the token is bound to")
	}
	p.JTI, p.IssuedAt = c.jti, c.iat
	// Remembered as long as the proof could pass the iat check above.
	until := time.Unix(c.iat+maxAge+leeway+1, 0)
	first, rerr := v.Replay.MarkUsed(ctx, v.replayKey(p.JKT, c.jti), until)
	if rerr != nil {
		return nil, &Error{Reason: ReasonDPoPUnavailable, Description: "the DPoP replay store is unavailable", Err: rerr}
	}
	if !first {
		return nil, reject(ReasonDPoPReplay, "proof was used before")
	}
	return p, nil
}

// replayKey is fixed-size whatever the jti: the hash of the key's
// thumbprint and the jti (a jti is unique per key and window).
func (v *DPoPVerifier) replayKey(jkt, jti string) string {
	var in [512]byte
	var sum [sha256.Size]byte
	if len(jkt)+1+len(jti) <= len(in) {
		n := copy(in[:], jkt)
		in[n] = 0
		n += 1 + copy(in[n+1:], jti)
		sum = sha256.Sum256(in[:n])
	} else {
		h := sha256.New()
		h.Write([]byte(jkt))
		h.Write([]byte{0})
		h.Write([]byte(jti))
		h.Sum(sum[:0])
	}
	out := make([]byte, 0, len("dpop::")+len(v.Scope)+43)
	out = append(append(append(out, "dpop:"...), v.Scope...), ':')
	out = base64.RawURLEncoding.AppendEncode(out, sum[:])
	return string(out)
}

// athMatches reports whether ath is the base64url SHA-256 of tok, without
// allocating (it runs on every DPoP request at the gateway).
func athMatches(ath, tok string) bool {
	var want [sha256.Size]byte
	if len(ath) != 43 {
		return false
	}
	if n, err := b64.Decode(want[:], readOnlyBytes(ath)); err != nil || n != len(want) {
		return false
	}
	return sha256.Sum256(readOnlyBytes(tok)) == want
}

// AccessTokenHash is a proof's ath for tok: base64url(SHA-256(tok)).
func AccessTokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// verifySignature checks the proof's structure and header, builds its key
// from the jwk header and verifies the signature. It returns the proof (key
// thumbprint and alg) and the payload segment, still encoded.
func (v *DPoPVerifier) verifySignature(proof string) (*DPoPProof, string, *Error) {
	if len(proof) > MaxDPoPProofBytes {
		return nil, "", reject(ReasonDPoPProof, "proof exceeds %d bytes", MaxDPoPProofBytes)
	}
	dot1 := strings.IndexByte(proof, '.')
	if dot1 < 0 {
		return nil, "", dpopError("proof is not a JWT")
	}
	dot2 := dot1 + 1 + strings.IndexByte(proof[dot1+1:], '.')
	if dot2 <= dot1 || strings.IndexByte(proof[dot2+1:], '.') >= 0 {
		return nil, "", dpopError("proof is not a compact JWS")
	}
	hk, rerr := v.headerKey(proof[:dot1])
	if rerr != nil {
		return nil, "", rerr
	}
	sig, err := decodeSegment(nil, proof[dot2+1:]) // exactly sized: the verifier keeps it on the heap
	if err != nil || len(sig) == 0 {
		return nil, "", dpopError("proof signature is missing or not base64url")
	}
	if !hk.key.verify(hk.alg, readOnlyBytes(proof[:dot2]), sig) {
		return nil, "", dpopError("proof signature verification failed")
	}
	return &DPoPProof{JKT: hk.jkt, Alg: hk.alg}, proof[dot1+1 : dot2], nil
}

// headerKey parses a proof's header segment into its algorithm, key and
// thumbprint, through the key cache when the verifier has one. The
// algorithm allow-list is checked on hits too (verifiers may share a cache).
func (v *DPoPVerifier) headerKey(seg string) (*proofHeaderKey, *Error) {
	hk := v.Keys.get(seg)
	if hk == nil {
		var hbuf [2048]byte
		hdr, err := decodeSegment(hbuf[:0], seg)
		if err != nil {
			return nil, dpopError("proof header is not base64url")
		}
		h, rerr := parseDPoPHeader(hdr)
		if rerr != nil {
			return nil, rerr
		}
		key, jkt, rerr := parseProofJWK(h.jwk, h.alg)
		if rerr != nil {
			return nil, rerr
		}
		hk = &proofHeaderKey{alg: h.alg, key: key, jkt: jkt}
		v.Keys.put(seg, hk)
	}
	if !slices.Contains(v.AlgorithmList(), hk.alg) {
		return nil, dpopError("proof algorithm %s is not allowed", hk.alg)
	}
	return hk, nil
}

// dpopHeader is what the verifier reads of a proof's JOSE header.
type dpopHeader struct {
	alg string
	jwk []byte // the raw jwk object, a view of the decoded header
}

// dpopForbiddenHeaders: critical extensions we do not implement, unencoded
// payloads, JWE markers, and key URLs (the key is the jwk, nothing else).
var dpopForbiddenHeaders = [...]string{"crit", "b64", "enc", "zip", "jku", "x5u", "x5c"}

func parseDPoPHeader(data []byte) (dpopHeader, *Error) {
	var h dpopHeader
	var typOK bool
	err := eachHeaderMember(data, func(name, value []byte) error {
		for _, f := range dpopForbiddenHeaders {
			if string(name) == f {
				return dpopError("proof header parameter %q is not accepted", f)
			}
		}
		switch string(name) {
		case "typ":
			typ, err := unquote(value)
			if err != nil {
				return dpopError("proof typ is not a string")
			}
			typOK = strings.EqualFold(typ, TypDPoP)
		case "alg":
			h.alg = algName(value)
			if h.alg == "" || IsHMAC(h.alg) {
				return dpopError("proof algorithm %s is not supported", printable(value))
			}
		case "jwk":
			if value[0] != '{' {
				return dpopError("proof jwk is not an object")
			}
			h.jwk = value
		}
		return nil
	})
	if err != nil {
		return h, asDPoPError(err, "header")
	}
	switch {
	case !typOK:
		return h, dpopError("proof typ is not %s", TypDPoP)
	case h.alg == "":
		return h, dpopError("proof header has no alg")
	case h.jwk == nil:
		return h, dpopError("proof header has no jwk")
	}
	return h, nil
}

// dpopString decodes a string member of a proof's claims or jwk (what
// names which), of at most maxDPoPClaimBytes.
func dpopString(what string, name, value []byte) (string, error) {
	if value[0] != '"' || len(value) > maxDPoPClaimBytes+2 {
		return "", dpopError("proof %s %q is not a string of at most %d bytes", what, name, maxDPoPClaimBytes)
	}
	s, err := unquote(value)
	if err != nil {
		return "", dpopError("proof %s %q is not a valid string", what, name)
	}
	return s, nil
}

// setDPoPString decodes value, a bounded JSON string, into *dst; a nil dst
// is a member the caller does not read.
func setDPoPString(dst *string, what string, name, value []byte) error {
	if dst == nil {
		return nil
	}
	s, err := dpopString(what, name, value)
	*dst = s
	return err
}

// asDPoPError keeps the *Error a member callback returned and reports any
// other error (bad JSON) as the object named what not being valid.
func asDPoPError(err error, what string) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return dpopError("proof %s is not a valid JSON object (%v)", what, err)
}

// dpopClaims are a proof's claims.
type dpopClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       int64
}

func parseDPoPClaims(payload []byte) (*dpopClaims, *Error) {
	var c dpopClaims
	var iatSeen bool
	err := eachMember(payload, func(name, value []byte) error {
		var dst *string
		switch string(name) {
		case "jti":
			dst = &c.jti
		case "htm":
			dst = &c.htm
		case "htu":
			dst = &c.htu
		case "ath":
			dst = &c.ath
		case "nonce":
			dst = &c.nonce
		case "iat":
			iatSeen = true
			var err error
			if c.iat, err = numericDate(value); err != nil {
				return dpopError("proof iat is not a NumericDate")
			}
			return nil
		}
		return setDPoPString(dst, "claim", name, value)
	})
	if err != nil {
		return nil, asDPoPError(err, "claims")
	}
	switch {
	case c.jti == "":
		return nil, dpopError("proof has no jti")
	case c.htm == "":
		return nil, dpopError("proof has no htm")
	case c.htu == "":
		return nil, dpopError("proof has no htu")
	case !iatSeen:
		return nil, dpopError("proof has no iat")
	}
	return &c, nil
}
