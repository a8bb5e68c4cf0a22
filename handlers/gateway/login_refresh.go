package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// Refresh timing.
const (
	// maxRefreshAhead is how long before the access token's expiry it is
	// refreshed at the latest (a quarter of its lifetime when that is
	// shorter), so an upstream never receives one about to expire.
	maxRefreshAhead = 30 * time.Second
	// refreshLease is how long one instance holds the right to refresh a
	// session; the others wait for its result meanwhile.
	refreshLease = 15 * time.Second
	// leasePoll is how often a waiting instance looks for that result;
	// leaseWait how long it waits before it serves the still-valid access
	// token (or answers 503 once it expired).
	leasePoll = 25 * time.Millisecond
	leaseWait = 3 * time.Second
	// refreshRetry is the pause after a refresh the provider could not
	// answer, while the access token is still valid.
	refreshRetry = 5 * time.Second
)

// needsRefresh: there is a refresh token and the access token expires
// within the refresh window.
func (l *Login) needsRefresh(rec *sessionRecord, now time.Time) bool {
	if rec.RefreshToken == "" || rec.AccessExpiry == 0 || now.Unix() < rec.retryAt {
		return false
	}
	ahead := min(maxRefreshAhead, time.Duration(rec.AccessExpiry-rec.Obtained)*time.Second/4)
	return !now.Before(time.Unix(rec.AccessExpiry, 0).Add(-ahead))
}

func (l *Login) accessExpired(rec *sessionRecord, now time.Time) bool {
	return rec.AccessExpiry != 0 && now.Unix() >= rec.AccessExpiry
}

// refresh renews the session's tokens once for all requests and instances:
// the caller holds s.mu (one flight in this process); across instances
// sharing the store, a lease (a single-use marker per session version)
// elects one refresher, and the others re-read the session until its
// version moves on. Re-reading after the lock is what makes a single-use
// refresh token safe: nobody refreshes with a token already spent.
func (l *Login) refresh(ctx context.Context, r *http.Request, s *liveSession, rec *sessionRecord, now time.Time) (*sessionRecord, *Error) {
	deadline := time.Now().Add(leaseWait)
	for {
		if !l.needsRefresh(rec, now) {
			return rec, nil // refreshed elsewhere
		}
		// One lease per session version, held for refreshLease: every
		// instance asks for the same key, so exactly one refreshes; a
		// refresher that failed (or died) frees it when it expires.
		leaseKey := "gateway-refresh:" + l.leaseID(s, rec) + ":" + strconv.Itoa(rec.V)
		if s.leaseV == rec.V && now.Before(s.leaseUntil) {
			return l.doRefresh(ctx, r, s, rec, now) // our lease still: a retry after a failure
		}
		first, err := l.cfg.Markers.MarkUsed(ctx, leaseKey, now.Add(refreshLease))
		if err != nil {
			return nil, &Error{Status: http.StatusServiceUnavailable, Reason: ReasonStoreDown, Description: "session store is unavailable", RetryAfter: 5, Err: err}
		}
		if first {
			s.leaseV, s.leaseUntil = rec.V, now.Add(refreshLease)
			return l.doRefresh(ctx, r, s, rec, now)
		}
		if l.cfg.CookieSessions || time.Now().After(deadline) {
			// Cookie sessions live in one instance, so the lease holder
			// was this process before a restart: its result is lost.
			return l.refreshUnavailable(rec, now, errors.New("another instance holds the refresh lease"))
		}
		select {
		case <-ctx.Done():
			return nil, &Error{Status: http.StatusServiceUnavailable, Reason: ReasonRefreshFailed, Description: "request ended while waiting for a refresh", Err: ctx.Err()}
		case <-time.After(leasePoll):
		}
		fresh, err := l.load(ctx, s)
		if err != nil {
			l.forget(s)
			return nil, errLoginRequired(ReasonNoSession, "session ended during refresh")
		}
		rec = fresh
	}
}

func (l *Login) leaseID(s *liveSession, rec *sessionRecord) string {
	if l.cfg.CookieSessions {
		return rec.SID
	}
	return s.id
}

// doRefresh runs the refresh_token grant and stores the new tokens.
func (l *Login) doRefresh(ctx context.Context, r *http.Request, s *liveSession, rec *sessionRecord, now time.Time) (*sessionRecord, *Error) {
	ep, err := l.cfg.Provider(ctx)
	if err != nil {
		return l.refreshUnavailable(rec, now, err)
	}
	octx := context.WithValue(ctx, oauth2.HTTPClient, l.cfg.HTTPClient)
	old := &oauth2.Token{AccessToken: rec.AccessToken, RefreshToken: rec.RefreshToken, Expiry: time.Unix(1, 0)}
	tok, err := l.oauth(r, ep).TokenSource(octx, old).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			// invalid_grant & co: the provider ended the grant.
			l.cfg.Logger.Info("session refresh refused; signing in again", "sub", rec.Sub, "error", exchangeError(err))
			l.forget(s)
			_ = l.deleteRecord(ctx, s, rec)
			return nil, errLoginRequired(ReasonRefreshFailed, "the provider refused the refresh token")
		}
		return l.refreshUnavailable(rec, now, exchangeError(err))
	}
	next := *rec
	next.V++
	next.AccessToken, next.Obtained = tok.AccessToken, now.Unix()
	next.AccessExpiry = accessExpiry(tok, now)
	if tok.RefreshToken != "" {
		next.RefreshToken = tok.RefreshToken // rotated
	}
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		idc, err := l.verifyIDToken(ctx, rawID, "", tok.AccessToken, now)
		if err != nil || idc.Subject != rec.Sub {
			l.cfg.Logger.Warn("session refresh: new ID token refused; signing in again", "error", err)
			l.forget(s)
			_ = l.deleteRecord(ctx, s, rec)
			return nil, errLoginRequired(ReasonRefreshFailed, "refreshed ID token refused")
		}
		next.IDToken = rawID
		if merged, err := overlay(rec.Identity, idc); err == nil {
			next.Identity = merged
		}
	}
	if err := l.save(ctx, s, &next, now); err != nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Reason: ReasonStoreDown, Description: "session store is unavailable", RetryAfter: 5, Err: err}
	}
	return &next, nil
}

// refreshUnavailable: the provider could not be reached. The session goes on
// while its access token is valid; after that the request is 503 (retry).
func (l *Login) refreshUnavailable(rec *sessionRecord, now time.Time, err error) (*sessionRecord, *Error) {
	if !l.accessExpired(rec, now) {
		l.cfg.Logger.Warn("session refresh failed; the access token is still valid", "error", err)
		cp := *rec
		cp.retryAt = now.Add(refreshRetry).Unix() // in memory only: not hammering the provider
		return &cp, nil
	}
	return nil, &Error{Status: http.StatusServiceUnavailable, Reason: ReasonRefreshFailed, Description: "the provider could not refresh the session", RetryAfter: 5, Err: err}
}

// overlay returns identity with the claims of a newer ID token on top.
func overlay(identity json.RawMessage, idc interface {
	Raw() (map[string]any, error)
}) (json.RawMessage, error) {
	var m map[string]any
	dec := json.NewDecoder(bytesReader(identity))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	raw, err := idc.Raw()
	if err != nil {
		return nil, err
	}
	for k, v := range raw {
		m[k] = v
	}
	return json.Marshal(m)
}

// accessExpiry is when the access token expires on our clock (expires_in
// counted from now), 0 when the provider did not say.
func accessExpiry(tok *oauth2.Token, now time.Time) int64 {
	if tok.ExpiresIn > 0 {
		return now.Unix() + tok.ExpiresIn
	}
	if !tok.Expiry.IsZero() {
		return tok.Expiry.Unix()
	}
	return 0
}
