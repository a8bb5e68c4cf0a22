package issuer

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/store"
)

// Sources of a user in the admin API (besides SourceConfig, SourceStore).
const SourceUsersFile = "users_file"

// minPasswordBytes is the shortest password the admin API sets.
const minPasswordBytes = 8

// AdminUser is a user as the admin API shows it (never the password or its
// hash).
type AdminUser struct {
	Name      string         `json:"name"`
	Source    string         `json:"source"`
	ReadOnly  bool           `json:"read_only,omitempty"`
	Disabled  bool           `json:"disabled"`
	Claims    map[string]any `json:"claims,omitempty"`
	CreatedAt time.Time      `json:"created_at,omitzero"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
}

// userInput is the body of a user create or edit.
type userInput struct {
	Name     string          `json:"name"`
	Password *string         `json:"password"`
	Disabled *bool           `json:"disabled"`
	Claims   *map[string]any `json:"claims"`
}

// userAdmin serves /authgate/issuers/{issuer}/users from the issuer's user
// store; config and users_file users are read-only.
type userAdmin struct{ iss *Issuer }

// AdminUsers is the users resource of an issuer whose store keeps users.
func AdminUsers(iss *Issuer) UserAdmin { return userAdmin{iss} }

func (ua userAdmin) userStore() (store.UserStore, error) {
	us, ok := ua.iss.store.(store.UserStore)
	if !ok {
		return nil, adminErr(http.StatusNotImplemented, "the storage engine keeps no users")
	}
	return us, nil
}

// readOnlySource names where a config-defined user lives, or "".
func (ua userAdmin) readOnlySource(name string) string {
	if _, ok := ua.iss.users.config[name]; ok {
		return SourceConfig
	}
	if m := ua.iss.users.file.Load(); m != nil {
		if _, ok := (*m)[name]; ok {
			return SourceUsersFile
		}
	}
	return ""
}

func (ua userAdmin) refuseReadOnly(name string) error {
	switch ua.readOnlySource(name) {
	case SourceConfig:
		return adminErr(http.StatusConflict, "user %q is defined in the config and is read-only here: edit the Caddyfile and reload", name)
	case SourceUsersFile:
		return adminErr(http.StatusConflict, "user %q is defined in the users_file and is read-only here: edit that file", name)
	}
	return nil
}

func checkPassword(p string) error {
	if len(p) < minPasswordBytes || len(p) > maxPasswordBytes {
		return badField("password", "must be %d to %d bytes", minPasswordBytes, maxPasswordBytes)
	}
	return nil
}

func checkClaims(claims map[string]any) error {
	for k := range claims {
		if k == "" || reservedUserClaims[k] {
			return badField("claims", "claim %q is set by the issuer", k)
		}
	}
	return nil
}

// ServeUsers implements UserAdmin.
func (ua userAdmin) ServeUsers(w http.ResponseWriter, r *http.Request, parts []string, audit func(action, resource string, detail map[string]string)) error {
	us, err := ua.userStore()
	if err != nil {
		return err
	}
	ctx := r.Context()
	if r.Method != http.MethodGet {
		// Read-modify-write of one record: one edit at a time here (the
		// store has no atomic user update across instances).
		ua.iss.adminUsers.Lock()
		defer ua.iss.adminUsers.Unlock()
	}
	switch {
	case len(parts) == 0 && r.Method == http.MethodGet:
		return ua.list(ctx, w, us)
	case len(parts) == 0 && r.Method == http.MethodPost:
		var in userInput
		if err := decodeAdminBody(r, &in); err != nil {
			return err
		}
		if err := checkUserName(in.Name); err != nil {
			return badField("name", "%v", strings.TrimPrefix(err.Error(), "user name "))
		}
		if err := ua.refuseReadOnly(in.Name); err != nil {
			return err
		}
		if in.Password == nil {
			return badField("password", "required")
		}
		if err := checkPassword(*in.Password); err != nil {
			return err
		}
		rec := store.UserRecord{Name: in.Name, Issuer: ua.iss.iss}
		if in.Claims != nil {
			if err := checkClaims(*in.Claims); err != nil {
				return err
			}
			rec.Claims = *in.Claims
		}
		if in.Disabled != nil {
			rec.Disabled = *in.Disabled
		}
		if cur, err := us.GetUser(ctx, in.Name); err == nil {
			if !ua.iss.ownsUser(&cur) {
				// User names are unique across the store every issuer shares.
				return adminErr(http.StatusConflict, "user name %q is taken by a user of another issuer", in.Name)
			}
			return adminErr(http.StatusConflict, "user %q exists", in.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if rec.PasswordHash, err = HashPassword(*in.Password); err != nil {
			return err
		}
		rec.CreatedAt = ua.iss.now().UTC()
		rec.UpdatedAt = rec.CreatedAt
		if err := us.PutUser(ctx, rec); err != nil {
			return err
		}
		audit("user.create", rec.Name, nil)
		writeAdminJSON(w, http.StatusCreated, storeUserView(&rec))
		return nil
	case len(parts) == 1:
		name := parts[0]
		switch r.Method {
		case http.MethodGet:
			return ua.show(ctx, w, us, name)
		case http.MethodPatch:
			return ua.update(w, r, us, name, audit)
		case http.MethodDelete:
			if err := ua.refuseReadOnly(name); err != nil {
				return err
			}
			if _, err := ua.get(ctx, us, name); err != nil {
				return err
			}
			if err := us.DeleteUser(ctx, name); err != nil {
				return err
			}
			// The user's tokens stop too.
			if _, err := ua.iss.RevokeAllOf(ctx, store.NotBeforeUser, name); err != nil {
				return err
			}
			audit("user.delete", name, nil)
			writeAdminJSON(w, http.StatusOK, map[string]any{"deleted": name})
			return nil
		}
		return methodNotAllowed(w, "GET, PATCH, DELETE")
	case len(parts) == 0:
		return methodNotAllowed(w, "GET, POST")
	}
	return adminErr(http.StatusNotFound, "no such resource: %s", r.URL.Path)
}

func storeUserView(rec *store.UserRecord) AdminUser {
	return AdminUser{Name: rec.Name, Source: SourceStore, Disabled: rec.Disabled, Claims: rec.Claims,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
}

func (ua userAdmin) get(ctx context.Context, us store.UserStore, name string) (*store.UserRecord, error) {
	rec, err := us.GetUser(ctx, name)
	if err == nil && !ua.iss.ownsUser(&rec) {
		err = store.ErrNotFound // another issuer's user
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, adminErr(http.StatusNotFound, "no user %q at issuer %s", name, ua.iss.iss)
	}
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

func (ua userAdmin) list(ctx context.Context, w http.ResponseWriter, us store.UserStore) error {
	recs, err := us.Users(ctx)
	if err != nil {
		return err
	}
	out := []AdminUser{}
	seen := map[string]bool{}
	add := func(src string, m map[string]*userEntry) {
		for _, n := range slices.Sorted(maps.Keys(m)) {
			if !seen[n] {
				seen[n] = true
				e := m[n].user
				out = append(out, AdminUser{Name: n, Source: src, ReadOnly: true, Disabled: e.Disabled, Claims: e.Claims})
			}
		}
	}
	add(SourceConfig, ua.iss.users.config)
	if m := ua.iss.users.file.Load(); m != nil {
		add(SourceUsersFile, *m)
	}
	for idx := range recs {
		if !seen[recs[idx].Name] && ua.iss.ownsUser(&recs[idx]) {
			out = append(out, storeUserView(&recs[idx]))
		}
	}
	slices.SortFunc(out, func(a, b AdminUser) int { return strings.Compare(a.Name, b.Name) })
	writeAdminJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

func (ua userAdmin) show(ctx context.Context, w http.ResponseWriter, us store.UserStore, name string) error {
	if src := ua.readOnlySource(name); src != "" {
		e, _ := ua.iss.findUser(ctx, name)
		v := AdminUser{Name: name, Source: src, ReadOnly: true}
		if e != nil {
			v.Disabled, v.Claims = e.user.Disabled, e.user.Claims
		}
		writeAdminJSON(w, http.StatusOK, v)
		return nil
	}
	rec, err := ua.get(ctx, us, name)
	if err != nil {
		return err
	}
	writeAdminJSON(w, http.StatusOK, storeUserView(rec))
	return nil
}

func (ua userAdmin) update(w http.ResponseWriter, r *http.Request, us store.UserStore, name string, audit func(string, string, map[string]string)) error {
	if err := ua.refuseReadOnly(name); err != nil {
		return err
	}
	var in userInput
	if err := decodeAdminBody(r, &in); err != nil {
		return err
	}
	if in.Name != "" && in.Name != name {
		return badField("name", "cannot be changed (delete the user and add another)")
	}
	if in.Password == nil && in.Disabled == nil && in.Claims == nil {
		return adminErr(http.StatusBadRequest, "name at least one of password, disabled, claims")
	}
	ctx := r.Context()
	rec, err := ua.get(ctx, us, name)
	if err != nil {
		return err
	}
	var fields []string
	if in.Password != nil {
		if err := checkPassword(*in.Password); err != nil {
			return err
		}
		if rec.PasswordHash, err = HashPassword(*in.Password); err != nil {
			return err
		}
		fields = append(fields, "password")
	}
	if in.Claims != nil {
		if err := checkClaims(*in.Claims); err != nil {
			return err
		}
		rec.Claims = *in.Claims
		fields = append(fields, "claims")
	}
	action := "user.update"
	if in.Disabled != nil {
		rec.Disabled = *in.Disabled
		fields = append(fields, "disabled")
		if len(fields) == 1 {
			action = map[bool]string{true: "user.disable", false: "user.enable"}[rec.Disabled]
		}
	}
	if in.Password != nil && len(fields) == 1 {
		action = "user.passwd"
	}
	rec.UpdatedAt = ua.iss.now().UTC()
	if err := us.PutUser(ctx, *rec); err != nil {
		return err
	}
	if rec.Disabled {
		// A disabled user's tokens stop too.
		if _, err := ua.iss.RevokeAllOf(ctx, store.NotBeforeUser, name); err != nil {
			return err
		}
	}
	audit(action, name, map[string]string{"fields": strings.Join(fields, ",")})
	writeAdminJSON(w, http.StatusOK, storeUserView(rec))
	return nil
}
