package issuer

import (
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"
)

// Sign-in defaults.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultConsentTTL = 30 * 24 * time.Hour
)

// SignInConfig configures sign-in for people: who they are, the pages and
// the sessions. It is part of Config.
type SignInConfig struct {
	// Users are the people who can sign in (see users.go).
	Users []UserConfig
	// UsersFile, when set, is a JSON file of more users, reloaded on change
	// (a bad file keeps the previous users).
	UsersFile string
	// OnLogin, when set, is called with each sign-in's result (LoginSuccess,
	// LoginFailure, LoginThrottled, LoginBusy), for metrics.
	OnLogin func(result string)
	// SessionTTL is the absolute lifetime of the single-sign-on session;
	// default 12h.
	SessionTTL time.Duration
	// ConsentTTL is how long a consent is remembered; default 30 days.
	ConsentTTL time.Duration
	// Templates, when set, is a directory whose templates replace the
	// embedded pages (see pages.go for the names and data).
	Templates string
	// ScopeDescriptions describe scopes on the consent page.
	ScopeDescriptions map[string]string
}

// signInState is the issuer's run-time state for people sign-in.
type signInState struct {
	users      *userDirectory
	throttle   *loginThrottle
	onLogin    func(result string)
	sessionTTL time.Duration
	consentTTL time.Duration
	scopeDesc  map[string]string
	pages      *pageSet
	csrfKey    atomic.Pointer[[]byte]
}

func (i *Issuer) initSignIn(cfg *SignInConfig) error {
	var err error
	if i.users, err = newUserDirectory(cfg, i.logger); err != nil {
		return err
	}
	i.throttle, i.onLogin = newLoginThrottle(), cfg.OnLogin
	i.sessionTTL, i.consentTTL = cfg.SessionTTL, cfg.ConsentTTL
	if i.sessionTTL == 0 {
		i.sessionTTL = DefaultSessionTTL
	}
	if i.consentTTL == 0 {
		i.consentTTL = DefaultConsentTTL
	}
	if i.sessionTTL < time.Minute || i.sessionTTL > MaxTTL || i.consentTTL < time.Minute || i.consentTTL > MaxTTL {
		return errors.New("session_ttl and consent_ttl must be between 1m and 2147483647s")
	}
	i.scopeDesc = maps.Clone(cfg.ScopeDescriptions)
	for s, d := range i.scopeDesc {
		if !validScopeToken(s) || d == "" || len(d) > 500 {
			return fmt.Errorf("scope_description %q: a scope and a text of 1 to 500 bytes", safeName(s))
		}
	}
	if i.pages, err = loadPages(cfg.Templates); err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	return nil
}
