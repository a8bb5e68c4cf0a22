package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const (
	testPort   = 9800
	testClient = "launcher-test"
	testSecret = "launcher-test-secret-0123456789abcdef"
)

// The launcher serves discovery, issues an opaque client_credentials token,
// introspects it as active, revokes it, then introspects it as inactive, and
// counts the introspection calls at the provider.
func TestProviderServesDiscoveryTokensAndIntrospection(t *testing.T) {
	p := Start(t, Options{
		Port: testPort,
		Clients: []map[string]any{{
			"client_id": testClient, "client_secret": testSecret,
			"grant_types": []string{"client_credentials"}, "redirect_uris": []string{},
			"response_types": []string{}, "scope": "orders:read",
		}},
		Config: map[string]any{"ttl": map[string]any{"ClientCredentials": 60}},
	})
	if want := "http://127.0.0.1:9800"; p.Issuer() != want {
		t.Fatalf("Issuer() = %q, want %q", p.Issuer(), want)
	}

	var disc struct {
		Issuer                string `json:"issuer"`
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
	}
	getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != p.Issuer() || disc.IntrospectionEndpoint != p.Issuer()+"/token/introspection" ||
		disc.RevocationEndpoint != p.Issuer()+"/token/revocation" {
		t.Fatalf("discovery = %+v", disc)
	}

	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	postForm(t, disc.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}, &tok)
	if tok.AccessToken == "" || strings.Contains(tok.AccessToken, ".") || tok.Scope != "orders:read" {
		t.Fatalf("token = %+v, want an opaque token with scope orders:read", tok)
	}

	var in map[string]any
	postForm(t, disc.IntrospectionEndpoint, url.Values{"token": {tok.AccessToken}}, &in)
	if in["active"] != true || in["client_id"] != testClient || in["scope"] != "orders:read" || in["iss"] != p.Issuer() {
		t.Fatalf("introspection = %v, want active", in)
	}

	postForm(t, disc.RevocationEndpoint, url.Values{"token": {tok.AccessToken}}, nil)
	in = nil
	postForm(t, disc.IntrospectionEndpoint, url.Values{"token": {tok.AccessToken}}, &in)
	if in["active"] != false || len(in) != 1 {
		t.Fatalf("introspection after revocation = %v, want {active:false}", in)
	}
	if n := p.Requests(t, "/token/introspection"); n != 2 {
		t.Fatalf("Requests(/token/introspection) = %d, want 2", n)
	}

	p.Stop()
	if _, err := http.Get(p.Issuer() + "/.well-known/openid-configuration"); err == nil {
		t.Fatal("provider still answers after Stop")
	}
	p.Stop() // harmless twice
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func postForm(t *testing.T, u string, form url.Values, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClient, testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", u, resp.Status)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
}

// The devInteractions sign-in: any username signs in (it becomes sub), the
// consent form follows, and userinfo releases the account's claims from
// Options.Accounts. This is the flow a browser test drives.
func TestProviderSignInReleasesAccountClaims(t *testing.T) {
	const redirect = "http://127.0.0.1:9801/cb"
	p := Start(t, Options{
		Port: 9801,
		Clients: []map[string]any{{
			"client_id": "web", "client_secret": testSecret,
			"grant_types": []string{"authorization_code"}, "response_types": []string{"code"},
			"redirect_uris": []string{redirect},
		}},
		Accounts: map[string]map[string]any{"alice": {"email": "alice@example.com", "email_verified": true, "groups": []string{"admins", "dev"}}},
	})
	jar, _ := cookiejar.New(nil)
	var landed *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			landed = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	verifier := "verifier-0123456789-0123456789-0123456789-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	auth := p.Issuer() + "/auth?" + url.Values{
		"client_id": {"web"}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid email groups"}, "state": {"st"}, "nonce": {"nn"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	page := fetch(t, c, http.MethodGet, auth, nil)
	page = fetch(t, c, http.MethodPost, formAction(t, p, page), url.Values{"prompt": {"login"}, "login": {"alice"}, "password": {"anything"}})
	fetch(t, c, http.MethodPost, formAction(t, p, page), url.Values{"prompt": {"consent"}})
	if landed == nil || landed.Query().Get("state") != "st" || landed.Query().Get("code") == "" {
		t.Fatalf("did not land on the redirect_uri with a code: %v", landed)
	}

	form := url.Values{"grant_type": {"authorization_code"}, "code": {landed.Query().Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, p.Issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", testSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	doJSON(t, req, &tok)
	if tok.AccessToken == "" || strings.Count(tok.IDToken, ".") != 2 {
		t.Fatalf("token response = %+v", tok)
	}
	req, _ = http.NewRequest(http.MethodGet, p.Issuer()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var info map[string]any
	doJSON(t, req, &info)
	groups, _ := info["groups"].([]any)
	if info["sub"] != "alice" || info["email"] != "alice@example.com" || len(groups) != 2 || groups[0] != "admins" {
		t.Fatalf("userinfo = %v", info)
	}
}

var actionRE = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// formAction is the absolute URL of the page's form.
func formAction(t *testing.T, p *Provider, page string) string {
	t.Helper()
	m := actionRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in page:\n%.2000s", page)
	}
	a := html.UnescapeString(m[1])
	if strings.HasPrefix(a, "/") {
		a = p.Issuer() + a
	}
	return a
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) string {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		t.Fatalf("%s %s: %s\n%.2000s", method, u, resp.Status, b)
	}
	return string(b)
}

func doJSON(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", req.Method, req.URL, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
