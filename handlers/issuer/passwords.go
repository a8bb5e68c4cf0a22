package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authgate/caddy-authgate/store"
)

// Password hashing defaults: OWASP's Password Storage Cheat Sheet's first
// argon2id configuration (m=19 MiB, t=2, p=1).
const (
	DefaultArgon2idMemoryKiB   = 19 * 1024
	DefaultArgon2idTime        = 2
	DefaultArgon2idParallelism = 1
)

// maxPasswordBytes bounds a presented password (argon2id reads all of it).
const maxPasswordBytes = maxSecretBytes

// errBadCredentials is the one answer to a wrong password, an unknown user
// and a disabled user.
var errBadCredentials = errors.New("invalid username or password")

// HashPassword returns the argon2id PHC string of password with the default
// parameters and a random 16-byte salt, the form `password_hash` and the
// users file accept.
func HashPassword(password string) (string, error) {
	if password == "" || len(password) > maxPasswordBytes {
		return "", fmt.Errorf("password must be 1 to %d bytes", maxPasswordBytes)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, DefaultArgon2idTime, DefaultArgon2idMemoryKiB, DefaultArgon2idParallelism, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", DefaultArgon2idMemoryKiB, DefaultArgon2idTime, DefaultArgon2idParallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Login results, for Config.OnLogin (a metrics counter in module).
const (
	LoginSuccess   = "success"
	LoginFailure   = "failure"
	LoginThrottled = "throttled"
	LoginBusy      = "busy"
)

// authenticateUser checks a sign-in. A wrong password, an unknown user and a
// disabled user all cost one slow hash and answer errBadCredentials; a
// throttled name or address answers *throttledError before any hashing;
// errHashBusy when the process-wide slow-hash budget is spent.
func (i *Issuer) authenticateUser(ctx context.Context, name, password string, addr netip.Addr) (*User, error) {
	now := i.now()
	wait, done := i.throttle.begin(name, addr, now)
	if wait > 0 {
		i.loginEvent(ctx, LoginThrottled, name, addr)
		return nil, &throttledError{retryAfter: wait}
	}
	defer done()
	e, err := i.findUser(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	h := &i.users.dummy
	if e != nil && !e.user.Disabled {
		h = &e.hash
	}
	ok := false
	if password != "" && len(password) <= maxPasswordBytes {
		if ok, err = i.slowCompare(h, password); err != nil {
			i.loginEvent(ctx, LoginBusy, name, addr)
			return nil, err
		}
	}
	if !ok || e == nil || e.user.Disabled {
		i.throttle.fail(name, addr, now)
		i.loginEvent(ctx, LoginFailure, name, addr)
		return nil, errBadCredentials
	}
	i.throttle.succeed(name)
	i.loginEvent(ctx, LoginSuccess, name, addr)
	u := e.user
	return &u, nil
}

func (i *Issuer) loginEvent(ctx context.Context, result, name string, addr netip.Addr) {
	if i.onLogin != nil {
		i.onLogin(result)
	}
	if result == LoginSuccess {
		return
	}
	level := slog.LevelInfo
	if result == LoginThrottled || result == LoginBusy {
		level = slog.LevelWarn
	}
	i.logger.LogAttrs(ctx, level, "sign-in refused", slog.String("result", result),
		slog.String("user", name), slog.String("remote_ip", addr.String()))
}

// throttledError refuses a sign-in attempt until retryAfter has passed.
type throttledError struct{ retryAfter time.Duration }

func (e *throttledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins; try again in %s", e.retryAfter.Round(time.Second))
}

// CheckPasswordHash reports whether s is a password hash the issuer accepts
// (argon2id or bcrypt within the slow-hash bounds), for tools that register
// users.
func CheckPasswordHash(s string) error {
	_, err := parsePasswordHash(s)
	return err
}
