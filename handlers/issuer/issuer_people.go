package issuer

import (
	"errors"
	"fmt"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// setRefreshLifetimes applies the defaults and bounds of the refresh-token
// lifetimes.
func (i *Issuer) setRefreshLifetimes(ttl, family time.Duration) error {
	if ttl == 0 {
		ttl = DefaultRefreshTokenTTL
	}
	if family == 0 {
		family = DefaultRefreshFamilyLifetime
	}
	if !validTTL(ttl) {
		return errors.New("issuer: refresh_token_ttl must be between 1s and 2147483647s")
	}
	if !validTTL(family) {
		return errors.New("issuer: refresh_family_lifetime must be between 1s and 2147483647s")
	}
	i.refreshTTL, i.familyLifetime = ttl.Truncate(time.Second), family.Truncate(time.Second)
	return nil
}

// resolveIDTokenAlg settles a client's ID-token algorithm: RS256 (the key
// OpenID Discovery requires) unless it names the issuer's own signing_alg.
func (i *Issuer) resolveIDTokenAlg(c *client, signingAlg string) error {
	switch c.idTokenAlg {
	case "":
		c.idTokenAlg = token.RS256
	case token.RS256:
	case signingAlg:
		if token.IsHMAC(signingAlg) {
			return fmt.Errorf("id_token_signed_response_alg %s: HMAC keys are never published", signingAlg)
		}
	default:
		return fmt.Errorf("id_token_signed_response_alg must be RS256 or the issuer's signing_alg %s", signingAlg)
	}
	return nil
}

// refreshTTLFor is c's refresh-token lifetime.
func (i *Issuer) refreshTTLFor(c *client) time.Duration {
	if c.refreshTTL > 0 {
		return c.refreshTTL
	}
	return i.refreshTTL
}
