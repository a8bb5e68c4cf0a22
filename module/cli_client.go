package module

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

func clientCommand(run runner) *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Creates, lists, edits, rotates and deletes run-time clients"}
	cmd.AddCommand(
		leaf(run, "create --name NAME [flags]", "Creates a client; prints its client_id and client_secret (shown once)", cmdClientCreate, clientFieldFlags),
		leaf(run, "list", "Lists the issuer's clients (config-defined ones are read-only)", cmdClientList, issuerFlag),
		leaf(run, "show ID", "Shows a client", cmdClientShow, issuerFlag),
		leaf(run, "update ID [flags]", "Edits a client: each flag given replaces that field (an empty list flag value clears it)", cmdClientUpdate, clientFieldFlags),
		leaf(run, "enable ID", "Enables a client", cmdClientEnable(false), issuerFlag),
		leaf(run, "disable ID", "Disables a client: it and every token it holds are refused", cmdClientEnable(true), issuerFlag),
		leaf(run, "delete ID...", "Deletes clients permanently: they and their tokens are refused", cmdClientDelete, issuerFlag),
		leaf(run, "rotate-secret ID [--keep-current [--expires RFC3339] [--description TEXT]]", "Generates a new secret (shown once); the current one stops, or is kept until it expires", cmdRotateSecret, func(c *cobra.Command) {
			issuerFlag(c)
			c.Flags().Bool("keep-current", false, "Keep the current secret working (hashed, no longer shown) until --expires")
			c.Flags().String("expires", "", "When the kept secret stops (RFC 3339; default: the issuer's rotated_secret_ttl)")
			c.Flags().String("description", "", "Description of the kept secret")
		}),
		leaf(run, "secrets ID", "Lists a client's secrets: id, description, expiry (never the secrets)", cmdSecrets, issuerFlag),
		leaf(run, "delete-secret ID SECRET_ID", "Deletes a kept (rotated) secret", cmdDeleteSecret, issuerFlag),
	)
	return cmd
}

// clientFieldFlags are the editable fields of a client.
func clientFieldFlags(c *cobra.Command) {
	issuerFlag(c)
	fs := c.Flags()
	fs.String("name", "", "Name: letters, digits, - . _ (1 to 64)")
	fs.StringArray("scope", nil, "Scope the client may get (repeatable; the issuer must know it)")
	fs.StringArray("grant", nil, "Grant type (repeatable): client_credentials, urn:ietf:params:oauth:grant-type:token-exchange")
	fs.StringArray("redirect-uri", nil, "Redirect URI of the browser flows (repeatable)")
	fs.StringArray("post-logout-redirect-uri", nil, "Post-logout redirect URI (repeatable)")
	fs.StringArray("auth-method", nil, "Client authentication method (repeatable): client_secret_basic, client_secret_post")
	fs.StringArray("audience", nil, "Audience of its tokens (repeatable; default the issuer's)")
	fs.String("ttl", "", "Access token lifetime: a duration (1h) or seconds, 1s to 2147483647s; 'default' for the issuer's")
	fs.String("refresh-ttl", "", "Refresh token lifetime, like --ttl")
	fs.String("format", "", "Token format: jwt or opaque")
	fs.StringArray("allow-ip", nil, "Allowed client address: IP, CIDR or range (repeatable)")
	fs.StringArray("deny-ip", nil, "Denied client address: IP, CIDR or range (repeatable)")
	fs.String("jwks-uri", "", "JWKS URL of a private_key_jwt client")
	fs.Bool("public", false, "A public client (no secret; browser flows with PKCE)")
	fs.Bool("skip-consent", false, "Skip the consent page")
	fs.Bool("disabled", false, "Create or set the client disabled")
}

// parseLifetimeFlag reads --ttl: whole seconds ("3600") or a duration
// ("1h"); "default" is 0, the issuer's default.
func parseLifetimeFlag(flag, s string) (int64, error) {
	if s == "default" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if _, ok := issuer.ParseLifetime(s); !ok {
			return 0, usageErr("--%s %s: want 1 to 2147483647 seconds", flag, s)
		}
		return n, nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, usageErr("--%s %q: want a duration such as 1h or 90s, or whole seconds", flag, s)
	}
	if d%time.Second != 0 {
		return 0, usageErr("--%s %s: want whole seconds", flag, s)
	}
	n := int64(d / time.Second)
	if _, ok := issuer.ParseLifetime(strconv.FormatInt(n, 10)); !ok {
		return 0, usageErr("--%s %s: want 1s to 2147483647s", flag, s)
	}
	return n, nil
}

// clientBody builds a create/update body from the flags given.
func clientBody(c *cli) (map[string]any, error) {
	fs := c.cmd.Flags()
	body := map[string]any{}
	for flag, field := range map[string]string{"name": "name", "format": "token_format", "jwks-uri": "jwks_uri"} {
		if fs.Changed(flag) {
			body[field] = c.fl.String(flag)
		}
	}
	for flag, field := range map[string]string{
		"scope": "scopes", "grant": "grant_types", "redirect-uri": "redirect_uris",
		"post-logout-redirect-uri": "post_logout_redirect_uris", "auth-method": "auth_methods",
		"audience": "audience", "allow-ip": "allow_ip", "deny-ip": "deny_ip",
	} {
		if fs.Changed(flag) {
			v, _ := fs.GetStringArray(flag)
			if len(v) == 1 && v[0] == "" {
				v = []string{} // clears the field
			}
			body[field] = v
		}
	}
	for flag, field := range map[string]string{"ttl": "access_token_ttl", "refresh-ttl": "refresh_token_ttl"} {
		if fs.Changed(flag) {
			n, err := parseLifetimeFlag(flag, c.fl.String(flag))
			if err != nil {
				return nil, err
			}
			body[field] = n
		}
	}
	for flag, field := range map[string]string{"public": "public", "skip-consent": "skip_consent", "disabled": "disabled"} {
		if fs.Changed(flag) {
			body[field] = c.fl.Bool(flag)
		}
	}
	return body, nil
}

func cmdClientCreate(c *cli) error {
	if err := c.nargs(0, "no arguments (flags only)"); err != nil {
		return err
	}
	if c.fl.String("name") == "" {
		return usageErr("client create: --name is required")
	}
	if !issuer.ValidName(c.fl.String("name")) {
		return usageErr("--name %q: want 1 to 64 letters, digits, '-', '.' or '_'", c.fl.String("name"))
	}
	body, err := clientBody(c)
	if err != nil {
		return err
	}
	base, err := c.issuerPath()
	if err != nil {
		return err
	}
	var got issuer.AdminClient
	return c.send(http.MethodPost, base+"/clients", body, &got, func() error {
		fmt.Fprintf(c.out(), "client_id:     %s\n", got.ClientID)
		if got.ClientSecret != "" {
			fmt.Fprintf(c.out(), "client_secret: %s\n", got.ClientSecret)
			fmt.Fprintln(c.cmd.ErrOrStderr(), "The secret is shown only now: store it safely.")
		}
		return nil
	})
}

func cmdClientList(c *cli) error {
	if err := c.nargs(0, "no arguments"); err != nil {
		return err
	}
	base, err := c.issuerPath()
	if err != nil {
		return err
	}
	var got struct {
		Clients []issuer.AdminClient `json:"clients"`
	}
	return c.send(http.MethodGet, base+"/clients", nil, &got, func() error {
		tw := tabwriter.NewWriter(c.out(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tSOURCE\tSTATE\tSCOPES")
		for _, cl := range got.Clients {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ClientID, dash(cl.Name), cl.Source, stateName(cl.Disabled), dash(strings.Join(cl.Scopes, " ")))
		}
		return tw.Flush()
	})
}

func stateName(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) clientPath(id string) (string, error) {
	base, err := c.issuerPath()
	if err != nil {
		return "", err
	}
	return base + "/clients/" + url.PathEscape(id), nil
}

func printClient(c *cli, cl *issuer.AdminClient) {
	tw := tabwriter.NewWriter(c.out(), 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("client_id", cl.ClientID)
	row("name", cl.Name)
	row("source", cl.Source)
	row("disabled", strconv.FormatBool(cl.Disabled))
	if cl.Public {
		row("public", "true")
	}
	row("scopes", strings.Join(cl.Scopes, " "))
	row("grant_types", strings.Join(cl.GrantTypes, " "))
	row("auth_methods", strings.Join(cl.AuthMethods, " "))
	row("redirect_uris", strings.Join(cl.RedirectURIs, " "))
	row("audience", strings.Join(cl.Audience, " "))
	if cl.AccessTokenTTL > 0 {
		row("access_token_ttl", (time.Duration(cl.AccessTokenTTL) * time.Second).String())
	}
	row("token_format", cl.TokenFormat)
	row("allow_ip", strings.Join(cl.AllowIP, " "))
	row("deny_ip", strings.Join(cl.DenyIP, " "))
	row("secrets", strconv.Itoa(len(cl.Secrets)))
	_ = tw.Flush()
}

func cmdClientShow(c *cli) error {
	p, err := c.pathOf("ID", c.clientPath)
	if err != nil {
		return err
	}
	var got issuer.AdminClient
	return c.send(http.MethodGet, p, nil, &got, func() error { printClient(c, &got); return nil })
}

func cmdClientUpdate(c *cli) error {
	if err := c.nargs(1, "ID"); err != nil {
		return err
	}
	body, err := clientBody(c)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return usageErr("client update: name at least one field to change (see --help)")
	}
	p, err := c.clientPath(c.args[0])
	if err != nil {
		return err
	}
	var got issuer.AdminClient
	return c.send(http.MethodPatch, p, body, &got, func() error { printClient(c, &got); return nil })
}

func cmdClientEnable(disable bool) cliFunc {
	return func(c *cli) error {
		p, err := c.pathOf("ID", c.clientPath)
		if err != nil {
			return err
		}
		return c.send(http.MethodPatch, p, map[string]any{"disabled": disable}, nil, func() error {
			_, err := fmt.Fprintf(c.out(), "client %s %s\n", c.args[0], stateName(disable))
			return err
		})
	}
}

func cmdClientDelete(c *cli) error {
	if len(c.args) == 0 {
		return usageErr("client delete: want one or more client IDs")
	}
	base, err := c.issuerPath()
	if err != nil {
		return err
	}
	q := url.Values{"id": c.args}
	var got struct {
		Deleted []string `json:"deleted"`
	}
	return c.send(http.MethodDelete, base+"/clients?"+q.Encode(), nil, &got, func() error {
		for _, id := range got.Deleted {
			fmt.Fprintf(c.out(), "client %s deleted\n", id)
		}
		return nil
	})
}

func cmdRotateSecret(c *cli) error {
	p, err := c.pathOf("ID", c.clientPath)
	if err != nil {
		return err
	}
	keep := c.fl.Bool("keep-current")
	body := map[string]any{"keep_current": keep}
	if e := c.fl.String("expires"); e != "" {
		if !keep {
			return usageErr("--expires needs --keep-current (without it the current secret stops at once)")
		}
		if _, err := time.Parse(time.RFC3339, e); err != nil {
			return usageErr("--expires %q: want an RFC 3339 time such as 2026-12-31T23:59:59Z", e)
		}
		body["expires"] = e
	}
	if d := c.fl.String("description"); d != "" {
		if !keep {
			return usageErr("--description needs --keep-current (it describes the kept secret)")
		}
		body["description"] = d
	}
	var got issuer.AdminClient
	return c.send(http.MethodPost, p+"/secrets", body, &got, func() error {
		fmt.Fprintf(c.out(), "client_id:     %s\nsecret_id:     %s\nclient_secret: %s\n", got.ClientID, got.SecretID, got.ClientSecret)
		for _, s := range got.Secrets {
			if !s.Current {
				fmt.Fprintf(c.cmd.ErrOrStderr(), "kept secret %s works until %s\n", s.ID, s.Expires.Format(time.RFC3339))
			}
		}
		fmt.Fprintln(c.cmd.ErrOrStderr(), "The new secret is shown only now: store it safely.")
		return nil
	})
}

func cmdSecrets(c *cli) error {
	p, err := c.pathOf("ID", c.clientPath)
	if err != nil {
		return err
	}
	var got struct {
		Secrets []issuer.AdminSecret `json:"secrets"`
	}
	return c.send(http.MethodGet, p+"/secrets", nil, &got, func() error { return printSecrets(c, got.Secrets) })
}

func printSecrets(c *cli, secrets []issuer.AdminSecret) error {
	tw := tabwriter.NewWriter(c.out(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SECRET_ID\tCURRENT\tCREATED\tEXPIRES\tDESCRIPTION")
	for _, s := range secrets {
		exp := "never"
		if !s.Expires.IsZero() {
			exp = s.Expires.Format(time.RFC3339)
		}
		created := "-"
		if !s.CreatedAt.IsZero() {
			created = s.CreatedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", dash(s.ID), s.Current, created, exp, dash(s.Description))
	}
	return tw.Flush()
}

func cmdDeleteSecret(c *cli) error {
	if err := c.nargs(2, "ID SECRET_ID"); err != nil {
		return err
	}
	p, err := c.clientPath(c.args[0])
	if err != nil {
		return err
	}
	return c.send(http.MethodDelete, p+"/secrets/"+url.PathEscape(c.args[1]), nil, nil, func() error {
		_, err := fmt.Fprintf(c.out(), "secret %s of client %s deleted\n", c.args[1], c.args[0])
		return err
	})
}
