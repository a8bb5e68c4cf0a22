package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/caddy-authgate/store"
)

// User is a person who can sign in at the issuer, as the endpoints see it:
// from the config, the users file or the store.
type User struct {
	Name     string
	Claims   map[string]any
	Disabled bool
}

// UserConfig is one user of the config or of a users file: the store's
// record, so that the three sources share one shape (and one JSON form).
type UserConfig = store.UserRecord

// maxUserName bounds a user name (a login form field and a store key).
const maxUserName = 256

// reservedUserClaims are claims the issuer sets itself; a user's claims may
// not replace them.
var reservedUserClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"auth_time": true, "nonce": true, "azp": true, "at_hash": true, "c_hash": true, "sid": true,
	"scope": true, "client_id": true, "cnf": true, "act": true, "acr": true, "amr": true,
}

// userEntry is a user with its parsed password hash.
type userEntry struct {
	user User
	hash secretHash
}

// checkUserName validates a user name: 1 to 256 bytes of UTF-8 without
// control characters or surrounding white space.
func checkUserName(name string) error {
	if name == "" || len(name) > maxUserName || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return fmt.Errorf("user name %q must be 1 to %d bytes of UTF-8 without surrounding spaces", name, maxUserName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("user name %q contains a control character", name)
		}
	}
	return nil
}

// parsePasswordHash accepts the slow hashes only: a password is never
// checked against a fast hash.
func parsePasswordHash(s string) (secretHash, error) {
	if !strings.HasPrefix(s, "$argon2id$") && !strings.HasPrefix(s, "$2") {
		return secretHash{}, errors.New("password_hash must be an argon2id ($argon2id$...) or bcrypt ($2a$/$2b$/$2y$) hash")
	}
	h, err := parseSecretHash(s)
	if err != nil {
		return secretHash{}, err
	}
	if h.kind != hashArgon2id && h.kind != hashBcrypt {
		return secretHash{}, errors.New("password_hash must be argon2id or bcrypt")
	}
	return h, nil
}

// buildUser validates one user record.
func buildUser(uc UserConfig) (*userEntry, error) {
	if err := checkUserName(uc.Name); err != nil {
		return nil, err
	}
	h, err := parsePasswordHash(uc.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", uc.Name, err)
	}
	for k := range uc.Claims {
		if reservedUserClaims[k] || k == "" {
			return nil, fmt.Errorf("user %q: claim %q is set by the issuer", uc.Name, k)
		}
	}
	return &userEntry{user: User{Name: uc.Name, Claims: maps.Clone(uc.Claims), Disabled: uc.Disabled}, hash: h}, nil
}

// buildUsers validates a list of users; a name given twice is an error.
func buildUsers(list []UserConfig) (map[string]*userEntry, error) {
	out := make(map[string]*userEntry, len(list))
	for _, uc := range list {
		e, err := buildUser(uc)
		if err != nil {
			return nil, err
		}
		if _, dup := out[e.user.Name]; dup {
			return nil, fmt.Errorf("user %q is defined twice", e.user.Name)
		}
		out[e.user.Name] = e
	}
	return out, nil
}

// userDirectory is where users are looked up: the config's users, then the
// users file's (swapped whole on reload), then the store's.
type userDirectory struct {
	config map[string]*userEntry
	file   atomic.Pointer[map[string]*userEntry]
	watch  *usersFile // nil without users_file
	// dummy is what a sign-in for an unknown or disabled user is checked
	// against: a random hash of the same kind and parameters as the first
	// configured user's (else the users file's first, else the default
	// argon2id), so that it costs what a wrong password costs.
	dummy secretHash
}

func newUserDirectory(cfg *SignInConfig, logger *slog.Logger) (*userDirectory, error) {
	d := &userDirectory{}
	var err error
	if d.config, err = buildUsers(cfg.Users); err != nil {
		return nil, err
	}
	if cfg.UsersFile != "" {
		d.watch = &usersFile{path: cfg.UsersFile, logger: logger, dir: d}
		if err := d.watch.load(); err != nil {
			return nil, fmt.Errorf("users_file: %w", err)
		}
	}
	like := defaultDummyPasswordHash()
	from := d.config
	if m := d.file.Load(); len(from) == 0 && m != nil {
		from = *m
	}
	if names := slices.Sorted(maps.Keys(from)); len(names) > 0 {
		like = from[names[0]].hash
	}
	if d.dummy, err = randomLike(&like); err != nil {
		return nil, err
	}
	return d, nil
}

// defaultDummyPasswordHash has the parameters HashPassword uses.
func defaultDummyPasswordHash() secretHash {
	return secretHash{kind: hashArgon2id, argon: argonParams{
		memory: DefaultArgon2idMemoryKiB, time: DefaultArgon2idTime, threads: DefaultArgon2idParallelism,
		salt: make([]byte, 16), key: make([]byte, 32)}}
}

// find returns the user's entry from the config, the users file or the
// store; store.ErrNotFound when there is none.
func (i *Issuer) findUser(ctx context.Context, name string) (*userEntry, error) {
	if checkUserName(name) != nil {
		return nil, store.ErrNotFound
	}
	d := i.users
	if e, ok := d.config[name]; ok {
		return e, nil
	}
	if m := d.file.Load(); m != nil {
		if e, ok := (*m)[name]; ok {
			return e, nil
		}
	}
	us, ok := i.store.(store.UserStore)
	if !ok || i.store == nil {
		return nil, store.ErrNotFound
	}
	rec, err := us.GetUser(ctx, name)
	if err != nil {
		return nil, err
	}
	if !i.ownsUser(&rec) {
		return nil, store.ErrNotFound // another issuer's user
	}
	e, err := buildUser(UserConfig{Name: rec.Name, PasswordHash: rec.PasswordHash, Claims: rec.Claims, Disabled: rec.Disabled})
	if err != nil {
		// A record the store holds but we cannot use is nobody we let in.
		i.logger.LogAttrs(ctx, slog.LevelError, "unusable user record in the store", slog.String("user", name), slog.String("error", err.Error()))
		return nil, store.ErrNotFound
	}
	return e, nil
}

// lookupUser returns the named user (disabled ones too: callers check
// Disabled); store.ErrNotFound for an unknown user.
func (i *Issuer) lookupUser(ctx context.Context, name string) (*User, error) {
	e, err := i.findUser(ctx, name)
	if err != nil {
		return nil, err
	}
	u := e.user
	u.Claims = maps.Clone(u.Claims)
	return &u, nil
}

// UserNames lists the users of the config and the users file (not the
// store's), sorted, for logs and tests.
func (i *Issuer) UserNames() []string {
	names := slices.Collect(maps.Keys(i.users.config))
	if m := i.users.file.Load(); m != nil {
		for n := range *m {
			if _, dup := i.users.config[n]; !dup {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// ownsUser reports whether a store user signs in at this issuer (the store
// is shared by every issuer of the Caddy).
func (i *Issuer) ownsUser(rec *store.UserRecord) bool {
	return rec.Issuer == "" || rec.Issuer == i.iss
}
