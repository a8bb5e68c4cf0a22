package issuer

import "time"

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
