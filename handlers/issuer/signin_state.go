package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Session kinds of the issuer in store.SessionStore. Ids are hashes: of the
// cookie value for SSO sessions, of (user, client, scopes) for consents.
const (
	kindSSO     = "issuer_sso"
	kindConsent = "issuer_consent"
	kindSecret  = "issuer_secret"
)

// ssoSession is the server-side record of a person signed in at the issuer.
type ssoSession struct {
	// ID is the record's id (a hash of the cookie value), the ID token's sid.
	ID       string    `json:"-"`
	Subject  string    `json:"sub"`
	AuthTime time.Time `json:"auth_time"`
	// Clients are the clients that got codes or tokens from this session
	// (for logout).
	Clients []string `json:"clients,omitempty"`
	// SignInFor is the digest of the authorization request the sign-in
	// answered (requestDigest): its consent form may stand for the fresh
	// sign-in that request's prompt=login or max_age asked for.
	SignInFor string `json:"sign_in_for,omitempty"`
}

// errNoSessionStore means the store cannot keep sessions: sign-in is off.
var errNoSessionStore = errors.New("the store keeps no sessions")

func (i *Issuer) sessionStore() (store.SessionStore, error) {
	if ss, ok := i.store.(store.SessionStore); ok && i.store != nil {
		return ss, nil
	}
	return nil, errNoSessionStore
}

func (i *Issuer) codeStore() (store.CodeStore, error) {
	if cs, ok := i.store.(store.CodeStore); ok && i.store != nil {
		return cs, nil
	}
	return nil, errors.New("the store keeps no authorization codes")
}

// secure reports whether the issuer is served over https (cookies are then
// Secure and __Host- prefixed).
func (i *Issuer) secure() bool { return strings.HasPrefix(i.origin, "https://") }

func (i *Issuer) cookieName(base string) string {
	if i.secure() {
		return "__Host-" + base
	}
	return base
}

const (
	ssoCookie  = "authgate-issuer"
	csrfCookie = "authgate-csrf"
)

// hashID is the store id of a cookie value: it is never stored itself.
func (i *Issuer) hashID(kind, v string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(i.iss))
	h.Write([]byte{0})
	h.Write([]byte(v))
	return hex.EncodeToString(h.Sum(nil))
}

// currentSession returns the signed-in person's session, or nil. A session
// of a user who was removed or disabled since, or whose tokens were revoked
// after the sign-in, is ended.
func (i *Issuer) currentSession(ctx context.Context, r *http.Request) (*ssoSession, *User) {
	c, err := r.Cookie(i.cookieName(ssoCookie))
	if err != nil || len(c.Value) < 20 || len(c.Value) > 100 {
		return nil, nil
	}
	ss, err := i.sessionStore()
	if err != nil {
		return nil, nil
	}
	id := i.hashID(kindSSO, c.Value)
	rec, err := ss.GetSession(ctx, kindSSO, id)
	if err != nil {
		return nil, nil
	}
	var s ssoSession
	if json.Unmarshal(rec.Data, &s) != nil || s.Subject != rec.Subject {
		return nil, nil
	}
	s.ID = id
	u, err := i.lookupUser(ctx, s.Subject)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The user store is unreachable: no session for this request, but
		// a passing outage does not end it.
		return nil, nil
	}
	// A sign-in before `revoke --user` (or a disable or delete, which
	// revoke too) is over: a re-enabled or re-created user signs in again.
	if err != nil || u.Disabled || i.notBefore.refusesUser(s.Subject, s.AuthTime.Unix()) {
		_ = ss.DeleteSession(ctx, kindSSO, id)
		return nil, nil
	}
	return &s, u
}

// startSession creates a new session (a new id at every sign-in) and sets
// its cookie. An earlier session of the browser is ended.
func (i *Issuer) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, user, signInFor string, now time.Time) (*ssoSession, error) {
	ss, err := i.sessionStore()
	if err != nil {
		return nil, err
	}
	i.endSession(ctx, w, r)
	v, err := randomToken()
	if err != nil {
		return nil, err
	}
	s := &ssoSession{ID: i.hashID(kindSSO, v), Subject: user, AuthTime: now.Truncate(time.Second), SignInFor: signInFor}
	if err := i.saveSession(ctx, ss, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: i.cookieName(ssoCookie), Value: v, Path: "/", HttpOnly: true, Secure: i.secure(),
		SameSite: http.SameSiteLaxMode, Expires: s.AuthTime.Add(i.sessionTTL),
	})
	return s, nil
}

func (i *Issuer) saveSession(ctx context.Context, ss store.SessionStore, s *ssoSession) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	// Absolute: the record dies session_ttl after the sign-in, whatever
	// happens in between.
	return ss.PutSession(ctx, store.Session{Kind: kindSSO, ID: s.ID, Subject: s.Subject, Data: data, ExpiresAt: s.AuthTime.Add(i.sessionTTL)})
}

// noteClient records that a client got something from the session.
func (i *Issuer) noteClient(ctx context.Context, s *ssoSession, clientID string) {
	if s == nil || slices.Contains(s.Clients, clientID) || len(s.Clients) >= 64 {
		return
	}
	ss, err := i.sessionStore()
	if err != nil {
		return
	}
	s.Clients = append(s.Clients, clientID)
	_ = i.saveSession(ctx, ss, s)
}

// endSession deletes the browser's session and clears its cookie.
func (i *Issuer) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	name := i.cookieName(ssoCookie)
	c, err := r.Cookie(name)
	if err != nil {
		return
	}
	if ss, err := i.sessionStore(); err == nil && c.Value != "" {
		_ = ss.DeleteSession(ctx, kindSSO, i.hashID(kindSSO, c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: i.secure(), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// consentID names a remembered consent: user, client and the exact scope
// set.
func consentID(user, clientID string, scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	h := sha256.New()
	for _, part := range append([]string{user, clientID}, s...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (i *Issuer) hasConsent(ctx context.Context, user, clientID string, scopes []string) bool {
	ss, err := i.sessionStore()
	if err != nil {
		return false
	}
	_, err = ss.GetSession(ctx, kindConsent, consentID(user, clientID, scopes))
	return err == nil
}

func (i *Issuer) rememberConsent(ctx context.Context, user, clientID string, scopes []string, now time.Time) error {
	ss, err := i.sessionStore()
	if err != nil {
		return err
	}
	return ss.PutSession(ctx, store.Session{Kind: kindConsent, ID: consentID(user, clientID, scopes), Subject: user, ExpiresAt: now.Add(i.consentTTL)})
}

// --- CSRF --------------------------------------------------------------------

// The forms use a signed double-submit token: a random cookie (SameSite
// Strict, HttpOnly, __Host- on https) and, in each form, an HMAC of it under
// a key kept in the store (shared by every instance). A cross-site form
// cannot read the cookie nor forge its HMAC.

// csrfToken returns the form token of the browser's CSRF cookie, setting a
// new cookie when there is none.
func (i *Issuer) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	key, err := i.csrfKeyBytes(r.Context())
	if err != nil {
		return "", err
	}
	v := ""
	if c, err := r.Cookie(i.cookieName(csrfCookie)); err == nil && len(c.Value) >= 40 && len(c.Value) <= 100 {
		v = c.Value
	} else {
		if v, err = randomToken(); err != nil {
			return "", err
		}
		http.SetCookie(w, &http.Cookie{Name: i.cookieName(csrfCookie), Value: v, Path: "/", HttpOnly: true, Secure: i.secure(), SameSite: http.SameSiteStrictMode})
	}
	return csrfMAC(key, v), nil
}

func csrfMAC(key []byte, v string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the form's token matches the CSRF cookie.
func (i *Issuer) checkCSRF(r *http.Request, formToken string) bool {
	c, err := r.Cookie(i.cookieName(csrfCookie))
	if err != nil || c.Value == "" || formToken == "" {
		return false
	}
	key, err := i.csrfKeyBytes(r.Context())
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(csrfMAC(key, c.Value)), []byte(formToken)) == 1
}

// csrfKeyBytes loads (or, the first time, creates) the issuer's CSRF key in
// the store.
func (i *Issuer) csrfKeyBytes(ctx context.Context) ([]byte, error) {
	if k := i.csrfKey.Load(); k != nil {
		return *k, nil
	}
	ss, err := i.sessionStore()
	if err != nil {
		return nil, err
	}
	id := i.hashID(kindSecret, "csrf")
	rec, err := ss.GetSession(ctx, kindSecret, id)
	if errors.Is(err, store.ErrNotFound) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := ss.PutSession(ctx, store.Session{Kind: kindSecret, ID: id, Data: k, ExpiresAt: i.now().AddDate(100, 0, 0)}); err != nil {
			return nil, err
		}
		// Read back: of instances racing to create it, the last write
		// wins for everyone.
		rec, err = ss.GetSession(ctx, kindSecret, id)
	}
	if err != nil {
		return nil, err
	}
	if len(rec.Data) != 32 {
		return nil, errors.New("corrupt CSRF key record")
	}
	k := rec.Data
	i.csrfKey.Store(&k)
	return k, nil
}
