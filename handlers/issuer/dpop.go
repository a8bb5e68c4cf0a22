package issuer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// DPoP (RFC 9449) at the token endpoint: a request with a DPoP proof gets
// tokens bound to the proof's key (cnf.jkt, token_type DPoP); a client
// with `dpop required` gets no token without one.

// Per-client DPoP modes (ClientConfig.DPoP).
const (
	DPoPOptional = "optional" // default: DPoP accepted, Bearer issued without a proof
	DPoPRequired = "required" // no Bearer tokens: every token request carries a proof
)

// RFC 9449 §5 and §8 error codes of the token endpoint.
const (
	errInvalidDPoPProof = "invalid_dpop_proof"
	errUseDPoPNonce     = "use_dpop_nonce"
)

// dpopNonceWindow is how long one server nonce is current; the previous
// window's nonce is accepted too, so a nonce lives 1 to 2 windows.
const dpopNonceWindow = 2 * time.Minute

// CheckClientDPoP validates a client's dpop mode (the Caddyfile parser
// calls it too, for an error with file:line).
func CheckClientDPoP(m string) error {
	switch m {
	case "", DPoPOptional, DPoPRequired:
		return nil
	}
	return fmt.Errorf("dpop must be required or optional, got %q", m)
}

// dpopState is the issuer's DPoP configuration.
type dpopState struct {
	algs  []string // proof algorithms; nil: token.DefaultDPoPAlgorithms
	nonce *nonceSource
	keys  *token.DPoPKeyCache
}

// newDPoPState validates the DPoP knobs of cfg.
func newDPoPState(cfg *Config) (dpopState, error) {
	d := dpopState{keys: token.NewDPoPKeyCache(token.DefaultDPoPKeyCacheSize)}
	if err := token.CheckDPoPAlgorithms(cfg.DPoPAlgorithms); err != nil {
		return d, fmt.Errorf("issuer: %w", err)
	}
	if len(cfg.DPoPAlgorithms) > 0 {
		d.algs = cfg.DPoPAlgorithms
	}
	if cfg.DPoPNonce {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return d, err
		}
		d.nonce = &nonceSource{key: key}
	}
	return d, nil
}

// algorithms is dpop_signing_alg_values_supported.
func (d *dpopState) algorithms() []string {
	if d.algs == nil {
		return token.DefaultDPoPAlgorithms
	}
	return d.algs
}

// dpopBinding checks the request's DPoP proof, if any, for client c and
// returns the confirmation the tokens are bound to (nil: Bearer). With a
// server nonce configured it sets DPoP-Nonce on the answer, whatever its
// outcome (RFC 9449 §8.2: clients keep the freshest nonce).
func (i *Issuer) dpopBinding(w http.ResponseWriter, r *http.Request, c *client, now time.Time) (*token.Confirmation, *oauthError) {
	if n := i.dpop.nonce; n != nil {
		w.Header().Set("DPoP-Nonce", n.current(now))
	}
	proofs := r.Header["Dpop"]
	switch {
	case len(proofs) == 0 && c.dpopRequired:
		return nil, newError(http.StatusBadRequest, errInvalidDPoPProof, "this client must present a DPoP proof")
	case len(proofs) == 0:
		return nil, nil
	case len(proofs) > 1:
		return nil, newError(http.StatusBadRequest, errInvalidDPoPProof, "more than one DPoP proof")
	}
	v := token.DPoPVerifier{Algorithms: i.dpop.algs, Replay: i.store, Scope: "issuer:" + i.iss, Keys: i.dpop.keys}
	req := token.DPoPRequest{Method: r.Method, URL: i.origin + i.prefix + "/token", Now: now}
	if n := i.dpop.nonce; n != nil {
		req.Nonce = func(s string) bool { return n.valid(s, now) }
	}
	p, err := v.Verify(r.Context(), proofs[0], req)
	if err != nil {
		var te *token.Error
		errors.As(err, &te)
		switch {
		case te != nil && te.Reason == token.ReasonDPoPNonce:
			// RFC 9449 §8: the client retries with the nonce it got.
			return nil, newError(http.StatusBadRequest, errUseDPoPNonce, "Authorization server requires nonce in DPoP proof")
		case te != nil && te.Reason == token.ReasonDPoPUnavailable:
			return nil, &oauthError{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavailable, Description: "the DPoP proof could not be checked", RetryAfter: 1}
		case te != nil:
			return nil, newError(http.StatusBadRequest, errInvalidDPoPProof, te.Description)
		}
		return nil, newError(http.StatusBadRequest, errInvalidDPoPProof, "the DPoP proof is invalid")
	}
	return &token.Confirmation{JKT: p.JKT}, nil
}

// nonceSource makes and checks server nonces without state: a nonce is its
// time window and a MAC over it, so every request of the window gets the
// same one and no store is written. The key is per process: behind a load
// balancer without affinity, a client may be asked for a nonce once per
// instance (each answer carries that instance's nonce).
type nonceSource struct{ key []byte }

func (n *nonceSource) make(window int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(window))
	mac := hmac.New(sha256.New, n.key)
	mac.Write(b[:8])
	copy(b[8:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (n *nonceSource) current(now time.Time) string {
	return n.make(now.Unix() / int64(dpopNonceWindow/time.Second))
}

func (n *nonceSource) valid(s string, now time.Time) bool {
	w := now.Unix() / int64(dpopNonceWindow/time.Second)
	for _, win := range [...]int64{w, w - 1} {
		if hmac.Equal([]byte(s), []byte(n.make(win))) {
			return true
		}
	}
	return false
}

// tokenType is the token_type of an access token (RFC 9449 §5.1: DPoP for
// a token bound to a DPoP key).
func tokenType(cnf *token.Confirmation) string {
	if cnf != nil && cnf.JKT != "" {
		return "DPoP"
	}
	return "Bearer"
}

// bindDPoPKey binds what m mints to the request's DPoP key, next to any
// other binding of m (a client certificate).
func bindDPoPKey(m *mintRequest, cnf *token.Confirmation) {
	if cnf == nil {
		return
	}
	if m.cnf == nil {
		m.cnf = &token.Confirmation{}
	}
	m.cnf.JKT = cnf.JKT
}

// checkBoundKey refuses a request whose grant credential is bound to a DPoP
// key (m.boundJKT) unless its proof is of that key: a bound token is never
// exchanged for a Bearer token or one bound to another key.
func checkBoundKey(m *mintRequest, cnf *token.Confirmation) *oauthError {
	if m.boundJKT == "" {
		return nil
	}
	if cnf == nil || cnf.JKT != m.boundJKT {
		return newError(http.StatusBadRequest, errInvalidDPoPProof, "the grant is bound to a DPoP key this request does not prove")
	}
	return nil
}

func jktOf(c *token.Confirmation) string {
	if c == nil {
		return ""
	}
	return c.JKT
}

// refreshBinding is the DPoP key a new refresh token is bound to (RFC 9449
// §5): a public client's is bound to the key of the request that got it
// (it has no other credential); the successor of a bound token stays bound
// to its key. A confidential client's refresh tokens are bound by its client
// authentication and stay unbound.
func refreshBinding(m *mintRequest) string {
	if m.boundJKT != "" {
		return m.boundJKT
	}
	if m.client.public {
		return jktOf(m.cnf)
	}
	return ""
}
