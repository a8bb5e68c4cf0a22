package issuer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// AdminPrefix is where the admin API lives on Caddy's admin endpoint.
const AdminPrefix = "/authgate/"

// maxAdminBody caps an admin API request body.
const maxAdminBody = 64 << 10

// AdminAPI is the run-time management API of the issuers (the
// `admin.api.authgate` module serves it on Caddy's admin endpoint, behind
// its access controls). JSON in and out:
//
//	GET    /authgate/issuers
//	GET    /authgate/issuers/{issuer}/clients                 list
//	POST   /authgate/issuers/{issuer}/clients                 create (the secret is shown once)
//	DELETE /authgate/issuers/{issuer}/clients?id=A&id=B       delete several
//	GET    /authgate/issuers/{issuer}/clients/{id}            show
//	PATCH  /authgate/issuers/{issuer}/clients/{id}            edit fields
//	DELETE /authgate/issuers/{issuer}/clients/{id}            delete
//	GET    /authgate/issuers/{issuer}/clients/{id}/secrets    list (never the secrets)
//	POST   /authgate/issuers/{issuer}/clients/{id}/secrets    regenerate (shown once)
//	DELETE /authgate/issuers/{issuer}/clients/{id}/secrets/{secret_id}
//	POST   /authgate/issuers/{issuer}/revocations             token, jti, client_id or user
//	GET    /authgate/issuers/{issuer}/keys
//	POST   /authgate/issuers/{issuer}/keys/rotate
//
// {issuer} is the issuer URL, path-escaped (url.PathEscape). Errors are
// {"error": "...", "field": "..."} with 400 (invalid input, naming the
// field), 404, 405, 409 (config-defined resources are read-only; a
// conflicting state) or 503.
type AdminAPI struct {
	// Issuers returns the issuers of the running config, opened.
	Issuers func() ([]*Issuer, error)
	// Audit receives one event per change (never a secret).
	Audit func(r *http.Request, ev AuditEvent)
	// Users, when set, serves /authgate/issuers/{issuer}/users.
	Users func(iss *Issuer) UserAdmin
}

// AuditEvent is one change made through the admin API.
type AuditEvent struct {
	// Action names the change, e.g. client.create, client.secret.rotate.
	Action string
	// Issuer is the issuer URL; Resource what changed (client id, secret
	// id, jti, user name, key id).
	Issuer   string
	Resource string
	// Actor is who asked: the admin caller's client certificate identity
	// or address (AdminActor).
	Actor string
	// Detail holds non-secret facts (e.g. the fields edited).
	Detail map[string]string
}

// AdminActor identifies the caller of an admin request: the subject and
// SHA-256 fingerprint of its client certificate (Caddy's remote admin
// endpoint authenticates with mTLS), else its address.
func AdminActor(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c := r.TLS.PeerCertificates[0]
		sum := sha256.Sum256(c.Raw)
		return "cert:" + c.Subject.String() + " sha256:" + hex.EncodeToString(sum[:])
	}
	return "addr:" + r.RemoteAddr
}

// adminError is an admin API error: status, message and the input field
// it is about.
type adminError struct {
	status int
	field  string
	msg    string
}

func (e *adminError) Error() string {
	if e.field != "" {
		return e.field + ": " + e.msg
	}
	return e.msg
}

func badField(field, format string, args ...any) *adminError {
	return &adminError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

func adminErr(status int, format string, args ...any) *adminError {
	return &adminError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeAdminError(w http.ResponseWriter, err error) {
	var ae *adminError
	switch {
	case errors.As(err, &ae):
	case strings.Contains(err.Error(), "exceeds the limit"):
		ae = &adminError{status: http.StatusBadRequest, msg: "the record is too large: " + err.Error()}
	default:
		ae = &adminError{status: http.StatusServiceUnavailable, msg: "storage unavailable: " + err.Error()}
	}
	body := map[string]string{"error": ae.Error()}
	if ae.field != "" {
		body["field"] = ae.field
	}
	writeAdminJSON(w, ae.status, body)
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	setNoStore(h)
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// decodeAdminBody decodes a JSON object into v: at most maxAdminBody
// bytes, no unknown fields, nothing after it. Errors name the field.
func decodeAdminBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return adminErr(http.StatusBadRequest, "reading the body: %v", err)
	}
	// A body must say it is JSON: no HTML form or text/plain request a
	// browser could send without a preflight is ever taken for one
	// (Caddy's admin endpoint checks origins too).
	if ct := r.Header.Get("Content-Type"); len(data) > 0 && !strings.HasPrefix(ct, "application/json") {
		return adminErr(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	if len(data) > maxAdminBody {
		return adminErr(http.StatusBadRequest, "body exceeds %d bytes", maxAdminBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return badField(te.Field, "must be %s, not a JSON %s", jsonKind(te.Type.String()), te.Value)
		case errors.As(err, &se):
			return adminErr(http.StatusBadRequest, "malformed JSON at byte %d: %v", se.Offset, se)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return badField(f, "unknown field")
		}
		return adminErr(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() {
		return adminErr(http.StatusBadRequest, "malformed JSON: data after the object")
	}
	var rest json.RawMessage
	if err := dec.Decode(&rest); err != io.EOF {
		return adminErr(http.StatusBadRequest, "malformed JSON: data after the object")
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "[]string"):
		return "an array of strings"
	case strings.Contains(goType, "string"), strings.Contains(goType, "Number"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "int"):
		return "an integer"
	}
	return "of type " + goType
}

// adminPath is a request path below /authgate/issuers/{issuer}/.
type adminPath struct {
	issuer string
	parts  []string // unescaped segments after the issuer
}

// parseAdminPath splits /authgate/issuers/{escaped issuer}/rest... using
// the escaped path, so an issuer URL's slashes (%2F) stay in its segment.
func parseAdminPath(r *http.Request) (*adminPath, bool, error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), AdminPrefix)
	p = strings.TrimSuffix(p, "/")
	segs := strings.Split(p, "/")
	if segs[0] != "issuers" {
		return nil, false, adminErr(http.StatusNotFound, "no such resource: %s (see /authgate/issuers)", r.URL.Path)
	}
	if len(segs) == 1 {
		return nil, true, nil
	}
	out := &adminPath{}
	for idx, s := range segs[1:] {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, false, adminErr(http.StatusNotFound, "malformed path segment %q", s)
		}
		if idx == 0 {
			out.issuer = u
		} else {
			out.parts = append(out.parts, u)
		}
	}
	return out, false, nil
}

// ServeHTTP routes an admin request.
func (a *AdminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		writeAdminError(w, err)
	}
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	p, list, err := parseAdminPath(r)
	if err != nil {
		return err
	}
	all, err := a.Issuers()
	if err != nil {
		return adminErr(http.StatusServiceUnavailable, "%v", err)
	}
	if list {
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, "GET")
		}
		out := []map[string]any{}
		for _, iss := range all {
			out = append(out, map[string]any{"issuer": iss.iss, "clients": len(iss.clients.load().byID),
				"signing_kid": iss.SigningKeyID()})
		}
		writeAdminJSON(w, http.StatusOK, map[string]any{"issuers": out})
		return nil
	}
	var iss *Issuer
	for _, c := range all {
		if c.iss == p.issuer {
			iss = c
		}
	}
	if iss == nil {
		return adminErr(http.StatusNotFound, "no issuer %q in the running config", p.issuer)
	}
	ad := &issuerAdmin{api: a, iss: iss, r: r}
	if len(p.parts) == 0 {
		return adminErr(http.StatusNotFound, "no such resource: %s (clients, revocations, keys, users)", r.URL.Path)
	}
	switch p.parts[0] {
	case "clients":
		return ad.serveClients(w, r, p.parts[1:])
	case "revocations":
		if len(p.parts) != 1 {
			break
		}
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return ad.serveRevocation(w, r)
	case "keys":
		return ad.serveKeys(w, r, p.parts[1:])
	case "users":
		if a.Users == nil {
			return adminErr(http.StatusNotFound, "users are not supported by this build")
		}
		return a.Users(iss).ServeUsers(w, r, p.parts[1:], ad.audit)
	}
	return adminErr(http.StatusNotFound, "no such resource: %s", r.URL.Path)
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return adminErr(http.StatusMethodNotAllowed, "method not allowed (allowed: %s)", allow)
}

// UserAdmin serves the users resource of one issuer.
type UserAdmin interface {
	ServeUsers(w http.ResponseWriter, r *http.Request, parts []string, audit func(action, resource string, detail map[string]string)) error
}

// issuerAdmin is one admin request against one issuer.
type issuerAdmin struct {
	api *AdminAPI
	iss *Issuer
	r   *http.Request
}

func (ad *issuerAdmin) audit(action, resource string, detail map[string]string) {
	if ad.api.Audit != nil {
		ad.api.Audit(ad.r, AuditEvent{Action: action, Issuer: ad.iss.iss, Resource: resource, Actor: AdminActor(ad.r), Detail: detail})
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
