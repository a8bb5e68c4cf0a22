package module

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

// userCommand is `caddy authgate user ...`: the issuer's run-time users
// (the store's; config and users_file users are read-only).
func userCommand(run runner) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Adds, lists, edits and deletes an issuer's run-time users"}
	claimFlags := func(c *cobra.Command) {
		issuerFlag(c)
		c.Flags().StringArray("claim", nil, "A claim of the user, key=value (repeatable), e.g. email=alice@example.com")
	}
	cmd.AddCommand(
		leaf(run, "add NAME [--claim k=v]... [--disabled]", "Adds a user; the password is read from standard input or a prompt", cmdUserAdd, func(c *cobra.Command) {
			claimFlags(c)
			c.Flags().Bool("disabled", false, "Add the user disabled")
		}),
		leaf(run, "passwd NAME", "Sets a user's password (read from standard input or a prompt)", cmdUserPasswd, issuerFlag),
		leaf(run, "list", "Lists the issuer's users (config and users_file ones are read-only)", cmdUserList, issuerFlag),
		leaf(run, "show NAME", "Shows a user", cmdUserShow, issuerFlag),
		leaf(run, "disable NAME", "Disables a user: no sign-in, and every token issued for them is refused", cmdUserEnable(true), issuerFlag),
		leaf(run, "enable NAME", "Enables a user", cmdUserEnable(false), issuerFlag),
		leaf(run, "delete NAME...", "Deletes users permanently; their tokens are refused", cmdUserDelete, issuerFlag),
	)
	return cmd
}

func (c *cli) userPath(name string) (string, error) {
	base, err := c.issuerPath()
	if err != nil {
		return "", err
	}
	if name == "" {
		return base + "/users", nil
	}
	return base + "/users/" + pathSegment(name), nil
}

// pathSegment escapes a name for one path segment. A name of dots only
// ("." or "..", valid user names) is escaped too: unescaped, the admin
// endpoint's router would clean it away and redirect elsewhere.
func pathSegment(name string) string {
	if strings.Trim(name, ".") == "" {
		return strings.Repeat("%2E", len(name))
	}
	return url.PathEscape(name)
}

func claimsFlag(c *cli) (map[string]any, error) {
	v, _ := c.cmd.Flags().GetStringArray("claim")
	if len(v) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, kv := range v {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErr("--claim %q: want key=value", kv)
		}
		out[k] = val
	}
	return out, nil
}

func printUser(c *cli, u *issuer.AdminUser) {
	tw := tabwriter.NewWriter(c.out(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\nsource:\t%s\ndisabled:\t%v\n", u.Name, u.Source, u.Disabled)
	for k, v := range u.Claims {
		fmt.Fprintf(tw, "claim %s:\t%v\n", k, v)
	}
	_ = tw.Flush()
}

func cmdUserAdd(c *cli) error {
	if err := c.nargs(1, "NAME"); err != nil {
		return err
	}
	claims, err := claimsFlag(c)
	if err != nil {
		return err
	}
	p, err := c.userPath("")
	if err != nil {
		return err
	}
	pw, err := c.readSecret("Password")
	if err != nil {
		return err
	}
	body := map[string]any{"name": c.args[0], "password": pw}
	if claims != nil {
		body["claims"] = claims
	}
	if c.fl.Bool("disabled") {
		body["disabled"] = true
	}
	var got issuer.AdminUser
	return c.send(http.MethodPost, p, body, &got, func() error {
		_, err := fmt.Fprintf(c.out(), "user %s added\n", got.Name)
		return err
	})
}

func cmdUserPasswd(c *cli) error {
	p, err := c.pathOf("NAME", c.userPath)
	if err != nil {
		return err
	}
	pw, err := c.readSecret("Password")
	if err != nil {
		return err
	}
	return c.send(http.MethodPatch, p, map[string]any{"password": pw}, nil, func() error {
		_, err := fmt.Fprintf(c.out(), "password of %s changed\n", c.args[0])
		return err
	})
}

func cmdUserList(c *cli) error {
	if err := c.nargs(0, "no arguments"); err != nil {
		return err
	}
	p, err := c.userPath("")
	if err != nil {
		return err
	}
	var got struct {
		Users []issuer.AdminUser `json:"users"`
	}
	return c.send(http.MethodGet, p, nil, &got, func() error {
		tw := tabwriter.NewWriter(c.out(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSOURCE\tSTATE")
		for _, u := range got.Users {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Source, stateName(u.Disabled))
		}
		return tw.Flush()
	})
}

func cmdUserShow(c *cli) error {
	p, err := c.pathOf("NAME", c.userPath)
	if err != nil {
		return err
	}
	var got issuer.AdminUser
	return c.send(http.MethodGet, p, nil, &got, func() error { printUser(c, &got); return nil })
}

func cmdUserEnable(disable bool) cliFunc {
	return func(c *cli) error {
		p, err := c.pathOf("NAME", c.userPath)
		if err != nil {
			return err
		}
		return c.send(http.MethodPatch, p, map[string]any{"disabled": disable}, nil, func() error {
			_, err := fmt.Fprintf(c.out(), "user %s %s\n", c.args[0], stateName(disable))
			return err
		})
	}
}

func cmdUserDelete(c *cli) error {
	if len(c.args) == 0 {
		return usageErr("user delete: want one or more user names")
	}
	for _, name := range c.args {
		p, err := c.userPath(name)
		if err != nil {
			return err
		}
		if _, err := c.call(http.MethodDelete, p, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.out(), "user %s deleted\n", name)
	}
	return nil
}
