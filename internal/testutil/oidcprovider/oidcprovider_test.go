package oidcprovider

import (
	"encoding/json"
	"net/http"
	"net/url"
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
