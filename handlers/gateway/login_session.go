package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// sessionRecord is one browser session. Server-side it is stored sealed
// under a key derived from the cookie's ticket (the store holds neither the
// ticket nor readable tokens); with `session cookie` it is the cookie.
type sessionRecord struct {
	V            int             `json:"v"` // version: +1 at every refresh
	SID          string          `json:"sid,omitempty"`
	Host         string          `json:"host"`
	Sub          string          `json:"sub"`
	Identity     json.RawMessage `json:"identity"`
	IDToken      string          `json:"id_token,omitempty"` // id_token_hint at logout
	AccessToken  string          `json:"at,omitempty"`
	RefreshToken string          `json:"rt,omitempty"`
	AccessExpiry int64           `json:"at_exp,omitempty"` // unix; 0 unknown
	Obtained     int64           `json:"obtained"`         // when the tokens were issued
	Created      int64           `json:"created"`
	Expires      int64           `json:"expires"` // created + session_ttl
	LastSeen     int64           `json:"seen"`

	retryAt int64 // unix; no refresh attempt before (in memory only)
}

// sessionRecheck is how long a session read from the store is trusted in
// memory before it is read again: a logout on another instance (or any
// deletion in the store) ends the session here within this time.
const sessionRecheck = time.Second

// maxLiveSessions bounds the in-memory session cache; it is emptied when
// full (the store stays the source of truth).
const maxLiveSessions = 20_000

// liveSession is the in-memory view of one ticket's session. The fast path
// reads state with one atomic load; mu serialises the slow path (re-reading
// the store, refreshing, touching), so one session refreshes once however
// many requests arrive at its expiry.
type liveSession struct {
	cookie string
	id     string   // store id
	key    [32]byte // record key
	mu     sync.Mutex
	state  atomic.Pointer[liveState]
	// The refresh lease this process holds (under mu): for version leaseV
	// until leaseUntil.
	leaseV     int
	leaseUntil time.Time
}

type liveState struct {
	rec     *sessionRecord
	claims  *token.Claims
	bearer  string    // "Bearer <access token>" for pass_access_token
	checked time.Time // last store read
}

// errLoginRequired refuses a request without a usable session: a browser
// navigation is sent to sign in, anything else gets 401.
func errLoginRequired(reason, desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: reason, Description: desc, LoginRequired: true}
}

// Session reasons.
const (
	ReasonNoSession      = "no_session"
	ReasonSessionExpired = "session_expired"
	ReasonRefreshFailed  = "refresh_failed"
	ReasonStoreDown      = "store_unavailable"
)

// session resolves the request's session cookie to its live state: the
// fast path is one cache lookup and a few comparisons.
//
// In cookie mode a refresh or touch reseals the cookie: newCookie is then
// the value to send back.
func (l *Login) session(r *http.Request, now time.Time) (st *liveState, newCookie string, e *Error) {
	v, ok := cookieValue(r, l.sessionCookieName(r))
	if !ok {
		return nil, "", errLoginRequired(ReasonNoSession, "no session cookie")
	}
	ls, _ := l.live.Load(v)
	var s *liveSession
	if ls != nil {
		s = ls.(*liveSession)
		if st := s.state.Load(); st != nil && l.fresh(st, now) && st.rec.Host == r.Host {
			return st, "", nil
		}
	} else {
		var bad bool
		if s, bad = l.newLive(v); bad {
			return nil, "", errLoginRequired(ReasonNoSession, "malformed session cookie")
		}
	}
	return l.slowSession(r, s, now)
}

// fresh: no need to look at the store or the provider now.
func (l *Login) fresh(st *liveState, now time.Time) bool {
	return now.Before(st.checked.Add(sessionRecheck)) && l.valid(st.rec, now) && !l.needsRefresh(st.rec, now)
}

// valid: within session_ttl and idle_timeout.
func (l *Login) valid(rec *sessionRecord, now time.Time) bool {
	unix := now.Unix()
	if unix >= rec.Expires {
		return false
	}
	return l.cfg.IdleTimeout == 0 || now.Before(time.Unix(rec.LastSeen, 0).Add(l.cfg.IdleTimeout))
}

// newLive prepares the cache entry of a cookie value (not yet loaded).
func (l *Login) newLive(v string) (*liveSession, bool) {
	if l.cfg.CookieSessions {
		if len(v) > MaxCookieSession || len(v) < 16 {
			return nil, true
		}
		return &liveSession{cookie: v}, false
	}
	ticket, ok := decodeTicket(v)
	if !ok {
		return nil, true
	}
	return &liveSession{cookie: v, id: sessionID(ticket), key: derive("session-key", ticket)}, false
}

func (l *Login) remember(s *liveSession) {
	if _, loaded := l.live.LoadOrStore(s.cookie, s); loaded {
		return
	}
	if atomic.AddInt64(&l.nLive, 1) > maxLiveSessions {
		l.live.Clear()
		atomic.StoreInt64(&l.nLive, 0)
	}
}

func (l *Login) forget(s *liveSession) {
	if _, loaded := l.live.LoadAndDelete(s.cookie); loaded {
		atomic.AddInt64(&l.nLive, -1)
	}
}

// slowSession re-reads the session (after taking its lock, so concurrent
// requests wait for one refresh and then see its result), refreshes the
// tokens when due, and records activity for idle_timeout.
func (l *Login) slowSession(r *http.Request, s *liveSession, now time.Time) (*liveState, string, *Error) {
	if !s.mu.TryLock() {
		// Another request is refreshing (or re-reading) this session: while
		// the access token is still valid, it serves this one too.
		if st := s.state.Load(); st != nil && st.rec.Host == r.Host && l.valid(st.rec, now) &&
			now.Before(st.checked.Add(sessionRecheck)) && !l.accessExpired(st.rec, now) {
			return st, "", nil
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if st := s.state.Load(); st != nil && l.fresh(st, now) && st.rec.Host == r.Host {
		return st, "", nil // another request did the work while we waited
	}
	cookie := s.cookie
	ctx := r.Context()
	rec, err := l.load(ctx, s)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errSealed) {
		l.forget(s)
		return nil, "", errLoginRequired(ReasonNoSession, "unknown or ended session")
	}
	if err != nil {
		return nil, "", &Error{Status: http.StatusServiceUnavailable, Reason: ReasonStoreDown, Description: "session store is unavailable", RetryAfter: 5, Err: err}
	}
	if rec.Host != r.Host {
		// A ticket of another site sharing the store (or a copied cookie).
		return nil, "", errLoginRequired(ReasonNoSession, "session belongs to another site")
	}
	if !l.valid(rec, now) {
		l.forget(s)
		_ = l.deleteRecord(ctx, s, rec)
		return nil, "", errLoginRequired(ReasonSessionExpired, "session expired")
	}
	changed := false
	if l.needsRefresh(rec, now) {
		var e *Error
		if rec, e = l.refresh(ctx, r, s, rec, now); e != nil {
			return nil, "", e
		}
		changed = true
	} else if l.accessExpired(rec, now) && l.cfg.PassAccessToken {
		// No refresh token and the upstream wants a live access token.
		l.forget(s)
		_ = l.deleteRecord(ctx, s, rec)
		return nil, "", errLoginRequired(ReasonSessionExpired, "access token expired and there is no refresh token")
	}
	if l.cfg.IdleTimeout > 0 && now.Sub(time.Unix(rec.LastSeen, 0)) >= l.touchEvery() {
		rec.LastSeen = now.Unix()
		if err := l.save(ctx, s, rec, now); err != nil {
			return nil, "", &Error{Status: http.StatusServiceUnavailable, Reason: ReasonStoreDown, Description: "session store is unavailable", RetryAfter: 5, Err: err}
		}
		changed = true
	}
	st := s.state.Load()
	if st == nil || st.rec.V != rec.V || st.rec.Identity == nil || changed {
		claims, err := sessionClaims(rec)
		if err != nil {
			l.forget(s)
			return nil, "", errLoginRequired(ReasonNoSession, "session claims are unreadable")
		}
		st = &liveState{rec: rec, claims: claims}
		if rec.AccessToken != "" {
			st.bearer = "Bearer " + rec.AccessToken
		}
	} else {
		st = &liveState{rec: rec, claims: st.claims, bearer: st.bearer}
	}
	st.checked = now
	s.state.Store(st)
	l.remember(s)
	if l.cfg.CookieSessions && changed && s.cookie != cookie {
		return st, s.cookie, nil
	}
	return st, "", nil
}

// touchEvery is how often activity is written for idle_timeout: a tenth of
// it, at most a minute (so idle_timeout is exact to that).
func (l *Login) touchEvery() time.Duration {
	return min(l.cfg.IdleTimeout/10, time.Minute)
}

// sessionClaims parses the identity with exp set to the session's end.
func sessionClaims(rec *sessionRecord) (*token.Claims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec.Identity, &m); err != nil {
		return nil, err
	}
	m["exp"] = json.RawMessage(fmt.Sprint(rec.Expires))
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return token.ParseClaims(payload)
}

// storeExpiry is when the stored record may go: its absolute end, or its
// idle end if sooner.
func (l *Login) storeExpiry(rec *sessionRecord) time.Time {
	end := time.Unix(rec.Expires, 0)
	if l.cfg.IdleTimeout > 0 {
		if idle := time.Unix(rec.LastSeen, 0).Add(l.cfg.IdleTimeout + l.touchEvery()); idle.Before(end) {
			end = idle
		}
	}
	return end
}

// aad binds a stored record to its id and to this login's provider and
// client: another login config sharing the store (another issuer or
// client on the same host) cannot open it.
func (l *Login) aad(id string) []byte {
	return []byte(l.kind + "\x00" + l.cfg.Issuer + "\x00" + l.cfg.ClientID + "\x00" + id)
}

// saveNew stores a fresh session under a new ticket and returns the cookie
// value.
func (l *Login) saveNew(ctx context.Context, r *http.Request, rec *sessionRecord) (string, error) {
	if l.cfg.CookieSessions {
		rec.SID = randomToken()
		return l.sealCookie(ctx, rec)
	}
	v := randomToken()
	s, _ := l.newLive(v)
	if err := l.save(ctx, s, rec, l.cfg.Now()); err != nil {
		return "", err
	}
	return v, nil
}

// save writes rec for s (server-side), or reseals s.cookie (cookie mode).
func (l *Login) save(ctx context.Context, s *liveSession, rec *sessionRecord, _ time.Time) error {
	if l.cfg.CookieSessions {
		v, err := l.sealCookie(ctx, rec)
		if err != nil {
			return err
		}
		s.cookie = v // the old value stays an alias of s in this process
		return nil
	}
	plain, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return l.cfg.Sessions.PutSession(ctx, store.Session{
		Kind: l.kind, ID: s.id, Subject: rec.Sub,
		Data: seal(s.key, plain, l.aad(s.id)), ExpiresAt: l.storeExpiry(rec),
	})
}

// load reads s's record from the store (or opens the cookie).
func (l *Login) load(ctx context.Context, s *liveSession) (*sessionRecord, error) {
	if l.cfg.CookieSessions {
		return l.openCookie(ctx, s.cookie)
	}
	sess, err := l.cfg.Sessions.GetSession(ctx, l.kind, s.id)
	if err != nil {
		return nil, err
	}
	plain, err := open(s.key, sess.Data, l.aad(s.id))
	if err != nil {
		return nil, err
	}
	var rec sessionRecord
	if err := json.Unmarshal(plain, &rec); err != nil {
		return nil, errSealed
	}
	return &rec, nil
}

func (l *Login) deleteRecord(ctx context.Context, s *liveSession, rec *sessionRecord) error {
	if l.cfg.CookieSessions {
		return l.markEnded(ctx, rec)
	}
	return l.cfg.Sessions.DeleteSession(ctx, l.kind, s.id)
}

// endSession deletes the session of a cookie value everywhere (store and
// this process's cache) and returns its record, nil when there was none.
func (l *Login) endSession(ctx context.Context, r *http.Request, v string) *sessionRecord {
	s, bad := l.newLive(v)
	if bad {
		return nil
	}
	if ls, ok := l.live.Load(v); ok {
		s = ls.(*liveSession)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := l.load(ctx, s)
	l.forget(s)
	if err != nil {
		return nil
	}
	if rec.Host != r.Host {
		return nil
	}
	if err := l.deleteRecord(ctx, s, rec); err != nil {
		l.cfg.Logger.Error("logout: session not deleted", "error", err)
	}
	s.state.Store(nil)
	return rec
}
