package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// fakeOP is the OpenID provider of -session runs: discovery, JWKS and a
// token endpoint that answers any code it handed out with an ES256 ID token
// (the browser part of sign-in is played by signIn).
type fakeOP struct {
	url  string
	priv *ecdsa.PrivateKey
	mu   sync.Mutex
	code map[string]string // code -> nonce
}

const benchClientID, benchClientSecret = "bench-portal", "bench-portal-secret"

func startOP() (*fakeOP, func(), error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	op := &fakeOP{url: "http://" + ln.Addr().String(), priv: priv, code: map[string]string{}}
	srv := &http.Server{Handler: op}
	go srv.Serve(ln)
	return op, func() { srv.Close() }, nil
}

func (op *fakeOP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	b64 := base64.RawURLEncoding.EncodeToString
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		json.NewEncoder(w).Encode(map[string]any{"issuer": op.url, "authorization_endpoint": op.url + "/auth",
			"token_endpoint": op.url + "/token", "jwks_uri": op.url + "/jwks", "code_challenge_methods_supported": []string{"S256"}})
	case "/jwks":
		pt, _ := op.priv.PublicKey.Bytes()
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "op",
			"alg": "ES256", "use": "sig", "x": b64(pt[1:33]), "y": b64(pt[33:65])}}})
	case "/token":
		r.ParseForm()
		op.mu.Lock()
		nonce, ok := op.code[r.PostForm.Get("code")]
		delete(op.code, r.PostForm.Get("code"))
		op.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		now := time.Now()
		hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "op", "typ": "JWT"})
		cl, _ := json.Marshal(map[string]any{"iss": op.url, "sub": benchSubject, "aud": benchClientID, "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		input := b64(hdr) + "." + b64(cl)
		sig, _ := jwsbb.Sign(op.priv, "ES256", []byte(input), nil)
		json.NewEncoder(w).Encode(map[string]any{"access_token": "bench-access-token", "token_type": "Bearer",
			"expires_in": 3600, "id_token": input + "." + b64(sig)})
	default:
		http.NotFound(w, r)
	}
}

// signIn plays a browser signing in at the session site and returns its
// session cookie ("name=value").
func (op *fakeOP) signIn(site string) (string, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, "http://"+site+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), op.url+"/auth") {
		return "", fmt.Errorf("sign-in did not redirect to the provider: %s %q", resp.Status, loc)
	}
	q := loc.Query()
	code := fmt.Sprintf("code-%d", time.Now().UnixNano())
	op.mu.Lock()
	op.code[code] = q.Get("nonce")
	op.mu.Unlock()
	cb, _ := http.NewRequest(http.MethodGet, q.Get("redirect_uri")+"?"+url.Values{"state": {q.Get("state")}, "code": {code}}.Encode(), nil)
	for _, ck := range resp.Cookies() {
		cb.AddCookie(ck)
	}
	resp, err = c.Do(cb)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "authgate_session" && ck.Value != "" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("callback: %s, no session cookie", resp.Status)
}

// sessionSite is site B of -session runs.
func sessionSite(op *fakeOP) string {
	return fmt.Sprintf(`authgate {
		login %s {
			client_id %s
			client_secret %s
		}
		header X-User sub
	}`, op.url, benchClientID, benchClientSecret)
}
