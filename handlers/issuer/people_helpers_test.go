package issuer

// peopleClients are the sign-in clients of the people tests: a confidential
// web app with every people grant and a public native app.
func peopleClients() []ClientConfig {
	return []ClientConfig{
		{ID: "web", Secrets: []SecretConfig{{Plain: "web-secret"}}, Scopes: []string{"openid", "profile", "email", "read", "write"},
			GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit},
			PeopleConfig: PeopleConfig{RedirectURIs: []string{"https://app.example/cb"}}},
		{ID: "mobile", Scopes: []string{"openid", "read"}, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
			PeopleConfig: PeopleConfig{Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	}
}
