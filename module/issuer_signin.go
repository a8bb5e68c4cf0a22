package module

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

// IssuerSignIn is the part of `authgate_issuer` that lets people sign in:
// users, the login and consent pages, the single-sign-on session.
type IssuerSignIn struct {
	// Users are the people who can sign in.
	Users []*IssuerUser `json:"users,omitempty"`
	// UsersFile is a JSON file of more users (an array of objects with
	// name, password_hash, claims, disabled), checked for changes every 5s;
	// a file that fails to read or parse keeps the previous users (logged).
	UsersFile string `json:"users_file,omitempty"`
	// SessionTTL is the absolute lifetime of the sign-in (SSO) session at
	// the issuer. Default: 12h.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`
	// ConsentTTL is how long a person's consent to a client and a set of
	// scopes is remembered. Default: 30d.
	ConsentTTL caddy.Duration `json:"consent_ttl,omitempty"`
	// Templates is a directory of html/template files that replace the
	// embedded pages (login.html, consent.html, error.html, logout.html,
	// layout.html, style.css; see README). Default: the embedded pages.
	Templates string `json:"templates,omitempty"`
	// ScopeDescriptions are shown for each requested scope on the consent
	// page, by scope.
	ScopeDescriptions map[string]string `json:"scope_descriptions,omitempty"`
}

// IssuerUser is one person who can sign in.
type IssuerUser struct {
	// Name is the sign-in name and the tokens' `sub`. Required.
	Name string `json:"name,omitempty"`
	// PasswordHash is an argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$key)
	// or a bcrypt hash ($2a$/$2b$/$2y$). Placeholders are accepted.
	PasswordHash string `json:"password_hash,omitempty"`
	// Claims are released by scope in ID tokens and userinfo (email, name,
	// groups, ...).
	Claims map[string]any `json:"claims,omitempty"`
	// Disabled users cannot sign in.
	Disabled bool `json:"disabled,omitempty"`
}

// signInConfig resolves placeholders and builds the issuer's SignInConfig.
func (s *IssuerSignIn) signInConfig(ctx caddy.Context, repl *caddy.Replacer) (issuer.SignInConfig, error) {
	if err := registerLoginMetrics(ctx.GetMetricsRegistry()); err != nil {
		return issuer.SignInConfig{}, err
	}
	cfg := issuer.SignInConfig{
		UsersFile:         s.UsersFile,
		SessionTTL:        time.Duration(s.SessionTTL),
		ConsentTTL:        time.Duration(s.ConsentTTL),
		Templates:         s.Templates,
		ScopeDescriptions: s.ScopeDescriptions,
		OnLogin:           countLogin,
	}
	for _, u := range s.Users {
		if u == nil {
			return cfg, errors.New("empty user")
		}
		hash, err := repl.ReplaceOrErr(u.PasswordHash, true, true)
		if err != nil {
			return cfg, fmt.Errorf("user %q: password_hash: %v", u.Name, err)
		}
		cfg.Users = append(cfg.Users, issuer.UserConfig{Name: u.Name, PasswordHash: strings.TrimSpace(hash), Claims: u.Claims, Disabled: u.Disabled})
	}
	return cfg, nil
}
