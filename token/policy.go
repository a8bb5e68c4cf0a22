package token

import (
	"slices"
	"time"
)

// DefaultLeeway bounds clock skew for exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MaxLeeway is the largest leeway a gateway may apply. An issuer keeps a
// revocation until the token's exp plus MaxLeeway, so no gateway can accept
// a revoked token in its leeway window.
const MaxLeeway = 10 * time.Minute

// Policy is what one gateway route accepts. Check runs on every request,
// cached or not, because handlers that share a verified-token cache can have
// different policies.
type Policy struct {
	// Algorithms allowed; empty means every algorithm the keys support.
	Algorithms []string
	// Issuers accepted as "iss"; empty accepts any issuer whose keys verify.
	Issuers []string
	// Audiences: the token's aud must contain one; empty skips the check.
	Audiences []string
	// Leeway for exp, nbf and iat.
	Leeway time.Duration
	// MaxTokenBytes; zero means DefaultMaxTokenBytes.
	MaxTokenBytes int
}

// MaxBytes is the token size limit in force.
func (p *Policy) MaxBytes() int {
	if p.MaxTokenBytes > 0 {
		return p.MaxTokenBytes
	}
	return DefaultMaxTokenBytes
}

func (p *Policy) allowsAlg(alg string) bool {
	return len(p.Algorithms) == 0 || slices.Contains(p.Algorithms, alg)
}

func (p *Policy) acceptsIssuer(iss string) bool {
	return len(p.Issuers) == 0 || slices.Contains(p.Issuers, iss)
}

// Check applies the per-request part of the policy to verified claims:
// algorithm (for tokens from a shared cache), issuer, time and audience.
func (p *Policy) Check(c *Claims, now time.Time) *Error {
	if c.Alg != "" && !p.allowsAlg(c.Alg) {
		return reject(ReasonAlgorithm, "algorithm %s is not allowed", c.Alg)
	}
	if !p.acceptsIssuer(c.Issuer) {
		return reject(ReasonIssuer, "issuer %q is not accepted", c.Issuer)
	}
	unix := now.Unix()
	leeway := int64((p.Leeway + time.Second - 1) / time.Second)
	if c.ExpiresAt+leeway <= unix {
		return reject(ReasonExpired, "token expired")
	}
	if c.NotBefore != 0 && c.NotBefore > unix+leeway {
		return reject(ReasonNotYetValid, "token is not valid yet")
	}
	if c.IssuedAt != 0 && c.IssuedAt > unix+leeway {
		return reject(ReasonNotYetValid, "token was issued in the future")
	}
	if len(p.Audiences) > 0 && !p.audienceMatches(c.Audience) {
		return reject(ReasonAudience, "token audience is not accepted")
	}
	return nil
}

func (p *Policy) audienceMatches(aud []string) bool {
	for _, a := range aud {
		if slices.Contains(p.Audiences, a) {
			return true
		}
	}
	return false
}
