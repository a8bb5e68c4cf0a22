package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// DPoP modes of a route (`authgate { dpop ... }`).
const (
	// DPoPOptional (the default): DPoP-bound tokens need a valid proof,
	// plain Bearer tokens work as before.
	DPoPOptional = "optional"
	// DPoPRequired refuses plain Bearer tokens.
	DPoPRequired = "required"
	// DPoPOff does not accept the DPoP scheme; DPoP-bound tokens are
	// refused (their binding cannot be checked).
	DPoPOff = "off"
)

// schemeDPoP is the RFC 9449 §7.1 authorization scheme.
const schemeDPoP = "DPoP"

// DPoPConfig is a route's DPoP (RFC 9449) configuration.
type DPoPConfig struct {
	// Mode is optional (default, also ""), required or off.
	Mode string
	// Verifier checks proofs. Its Replay defaults to a bounded in-memory
	// ReplayCache of this process; the module passes the shared store when
	// the storage engine is shared between instances.
	Verifier token.DPoPVerifier
	// URL returns the request's target URI, the proof's htu; nil means
	// scheme (by TLS), Host and path of r.
	URL func(r *http.Request) string
}

// CheckDPoPMode validates a configured mode.
func CheckDPoPMode(m string) error {
	switch m {
	case "", DPoPOptional, DPoPRequired, DPoPOff:
		return nil
	}
	return fmt.Errorf("dpop must be required, optional or off, got %q", m)
}

// Reasons of the DPoP binding step.
const (
	ReasonDPoPRequired = "dpop_required"
	ReasonDPoPBound    = "dpop_bound_as_bearer"
	ReasonDPoPNotBound = "dpop_token_not_bound"
	ReasonDPoPKey      = "dpop_key_mismatch"
	ReasonDPoPNoProof  = "dpop_no_proof"
	ReasonUnknownBound = "unknown_binding"
	codeInvalidDPoP    = "invalid_dpop_proof"
	dpopDefaultMode    = DPoPOptional
)

// setupDPoP validates the DPoP config and marks the Bearer header sources
// that take the DPoP scheme too (New calls it).
func (g *Gateway) setupDPoP() error {
	d := &g.cfg.DPoP
	if err := CheckDPoPMode(d.Mode); err != nil {
		return err
	}
	if d.Mode == "" {
		d.Mode = dpopDefaultMode
	}
	if d.Mode == DPoPOff {
		return nil
	}
	if d.Verifier.Replay == nil {
		d.Verifier.Replay = NewReplayCache(0, g.cfg.Now)
	}
	if d.Verifier.Keys == nil {
		d.Verifier.Keys = token.NewDPoPKeyCache(token.DefaultDPoPKeyCacheSize)
	}
	if err := d.Verifier.Validate(); err != nil {
		return err
	}
	g.dpopAlgs = strings.Join(d.Verifier.AlgorithmList(), " ")
	g.cfg.Sources = slices.Clone(g.cfg.Sources) // never DefaultTokenSources itself
	for i := range g.cfg.Sources {
		s := &g.cfg.Sources[i]
		if s.Kind == "header" && strings.EqualFold(s.Scheme, "Bearer") {
			s.dpop = true
		}
	}
	return nil
}

// bindDPoP is the DPoP binding step, after the token verified and before
// the route's rules: a token bound to a DPoP key (cnf.jkt) is accepted only
// with the DPoP scheme and a valid proof of that key for this request and
// this token; the proof is checked on every request, cached token or not.
func (g *Gateway) bindDPoP(r *http.Request, f found, c *token.Claims, now time.Time) *Error {
	var jkt string
	if c.Cnf != nil {
		if c.Cnf.Unknown() {
			return errInvalidToken(ReasonUnknownBound, "token is bound by a confirmation method the gateway does not check")
		}
		jkt = c.Cnf.JKT
	}
	if !f.dpop {
		switch {
		case jkt != "":
			return dpopError(errInvalidToken(ReasonDPoPBound, "DPoP-bound token presented without the DPoP scheme"))
		case g.cfg.DPoP.Mode == DPoPRequired:
			return dpopError(errInvalidToken(ReasonDPoPRequired, "this route requires DPoP-bound tokens"))
		}
		return nil
	}
	if jkt == "" {
		return errInvalidToken(ReasonDPoPNotBound, "token presented with the DPoP scheme is not DPoP-bound")
	}
	proofs := r.Header["Dpop"]
	if len(proofs) != 1 {
		return errInvalidProof(ReasonDPoPNoProof, "the request must carry exactly one DPoP proof")
	}
	p, err := g.cfg.DPoP.Verifier.Verify(r.Context(), proofs[0], token.DPoPRequest{
		Method: r.Method, URL: g.requestURL(r), AccessToken: f.token, JKT: jkt, Now: now,
	})
	if err != nil {
		var te *token.Error
		if errors.As(err, &te) && te.Reason == token.ReasonDPoPUnavailable {
			return &Error{Status: http.StatusServiceUnavailable, Reason: string(te.Reason), Description: te.Description, RetryAfter: 1, Err: te.Err}
		}
		if te != nil && te.Reason == token.ReasonDPoPKey {
			return errInvalidToken(ReasonDPoPKey, te.Description)
		}
		reason, desc := "dpop_proof", err.Error()
		if te != nil {
			reason, desc = string(te.Reason), te.Description
		}
		return errInvalidProof(reason, desc)
	}
	if p.JKT != jkt { // Verify checked it; kept as the step's own guarantee
		return errInvalidToken(ReasonDPoPKey, "DPoP proof key is not the key the token is bound to")
	}
	return nil
}

// requestURL is the target URI the proof's htu must name.
func (g *Gateway) requestURL(r *http.Request) string {
	if g.cfg.DPoP.URL != nil {
		return g.cfg.DPoP.URL(r)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// dpopError marks e as answered with the DPoP challenge.
func dpopError(e *Error) *Error {
	e.Scheme = schemeDPoP
	return e
}

func errInvalidProof(reason, desc string) *Error {
	return dpopError(&Error{Status: http.StatusUnauthorized, Code: codeInvalidDPoP, Reason: reason, Description: desc})
}

// dpopChallenge adds the route's DPoP challenge to a refusal (Authorize
// calls it on every error): with the DPoP scheme when the request used it
// or the route requires it, and next to the Bearer challenge otherwise.
func (g *Gateway) dpopChallenge(e *Error, f found) {
	if g.dpopAlgs == "" {
		return
	}
	e.DPoPAlgs = g.dpopAlgs
	if f.dpop || g.cfg.DPoP.Mode == DPoPRequired {
		e.Scheme = schemeDPoP
	}
}
