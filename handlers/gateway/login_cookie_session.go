package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// endedKind marks cookie sessions ended by logout (or a refused refresh),
// until they would have expired: a copy of the cookie is refused.
const endedKind = "gateway-session-ended"

func (l *Login) cookieAAD() []byte {
	return []byte("authgate-cookie-session\x00" + l.cfg.Issuer + "\x00" + l.cfg.ClientID)
}

// sealCookie encrypts a session into a cookie value (AES-256-GCM under a key
// derived from the gateway secret), refusing one over MaxCookieSession:
// cookies are never split.
func (l *Login) sealCookie(ctx context.Context, rec *sessionRecord) (string, error) {
	secret, err := l.gatewaySecret(ctx)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	v := b64url.EncodeToString(seal(derive("cookie-session", secret), plain, l.cookieAAD()))
	if len(v) > MaxCookieSession {
		return "", fmt.Errorf("session of %d bytes does not fit a cookie (limit %d): use `session store`", len(v), MaxCookieSession)
	}
	return v, nil
}

// openCookie decrypts a cookie session and refuses one that was ended.
func (l *Login) openCookie(ctx context.Context, v string) (*sessionRecord, error) {
	if len(v) > MaxCookieSession {
		return nil, errSealed
	}
	sealed, err := b64url.DecodeString(v)
	if err != nil {
		return nil, errSealed
	}
	secret, err := l.gatewaySecret(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := open(derive("cookie-session", secret), sealed, l.cookieAAD())
	if err != nil {
		return nil, err
	}
	var rec sessionRecord
	if json.Unmarshal(plain, &rec) != nil || rec.SID == "" {
		return nil, errSealed
	}
	_, err = l.cfg.Sessions.GetSession(ctx, endedKind, rec.SID)
	switch {
	case err == nil:
		return nil, store.ErrNotFound // ended
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return &rec, nil
}

// markEnded records that a cookie session is over.
func (l *Login) markEnded(ctx context.Context, rec *sessionRecord) error {
	return l.cfg.Sessions.PutSession(ctx, store.Session{Kind: endedKind, ID: rec.SID, ExpiresAt: time.Unix(rec.Expires, 0).Add(time.Minute)})
}
