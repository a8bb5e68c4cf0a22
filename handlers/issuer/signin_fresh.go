package issuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// signInFreshWindow is how long after a sign-in its consent page still
// counts as that sign-in's for prompt=login and max_age.
const signInFreshWindow = 10 * time.Minute

// requestDigest names an authorization request (its checked, encoded
// parameters) in the session record.
func requestDigest(raw string) string {
	sum := sha256.Sum256([]byte("authgate-signin-for\x00" + raw))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signedInFor reports whether sess began with a sign-in that answered req,
// a short while ago: only then may the consent form skip the login checks
// (prompt=login, max_age). Otherwise anyone at a browser with an older
// session could post the consent form, whose CSRF token the login page
// shows, and get a code without the sign-in the client asked for.
func (i *Issuer) signedInFor(sess *ssoSession, req *authzRequest) bool {
	if sess == nil || sess.SignInFor == "" || i.now().Sub(sess.AuthTime) > signInFreshWindow {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sess.SignInFor), []byte(requestDigest(req.raw))) == 1
}
