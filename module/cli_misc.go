package module

import (
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/caddy-authgate/handlers/issuer"
)

func revokeCommand(run runner) *cobra.Command {
	return leaf(run, "revoke (--token T | --jti J | --client ID | --user NAME)",
		"Revokes a token, a jti, or everything issued so far to a client or a user", cmdRevoke, func(c *cobra.Command) {
			issuerFlag(c)
			c.Flags().String("token", "", "An access token of the issuer ('-': read it from standard input)")
			c.Flags().String("jti", "", "A token id")
			c.Flags().String("client", "", "A client: every token issued to it so far is refused")
			c.Flags().String("user", "", "A user: every token issued for them so far is refused")
		})
}

func cmdRevoke(c *cli) error {
	if err := c.nargs(0, "no arguments (one of --token, --jti, --client, --user)"); err != nil {
		return err
	}
	body := map[string]any{}
	for flag, field := range map[string]string{"token": "token", "jti": "jti", "client": "client_id", "user": "user"} {
		if v := c.fl.String(flag); v != "" {
			body[field] = v
		}
	}
	if len(body) != 1 {
		return usageErr("revoke: name exactly one of --token, --jti, --client or --user")
	}
	if body["token"] == "-" {
		tok, err := c.readSecret("Token")
		if err != nil {
			return err
		}
		body["token"] = tok
	}
	base, err := c.issuerPath()
	if err != nil {
		return err
	}
	var got map[string]any
	return c.send(http.MethodPost, base+"/revocations", body, &got, func() error {
		switch got["revoked"] {
		case "client":
			fmt.Fprintf(c.out(), "every token issued to client %v until %v is revoked\n", got["client_id"], got["not_before"])
		case "user":
			fmt.Fprintf(c.out(), "every token issued for user %v until %v is revoked\n", got["user"], got["not_before"])
		default:
			fmt.Fprintf(c.out(), "token %v revoked\n", got["jti"])
		}
		return nil
	})
}

func keysCommand(run runner) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Lists and rotates an issuer's signing keys"}
	cmd.AddCommand(
		leaf(run, "list", "Lists the signing keys and the rotation schedule", cmdKeysList, issuerFlag),
		leaf(run, "rotate --now", "Starts a rotation at once: the new key is published now and signs after the lead", cmdKeysRotate, func(c *cobra.Command) {
			issuerFlag(c)
			c.Flags().Bool("now", false, "Start the rotation now (without it, the schedule is shown)")
		}),
	)
	return cmd
}

func (c *cli) keySchedule() (*issuer.KeySchedule, []byte, error) {
	base, err := c.issuerPath()
	if err != nil {
		return nil, nil, err
	}
	var ks issuer.KeySchedule
	data, err := c.call(http.MethodGet, base+"/keys", nil, &ks)
	return &ks, data, err
}

func cmdKeysList(c *cli) error {
	if err := c.nargs(0, "no arguments"); err != nil {
		return err
	}
	ks, data, err := c.keySchedule()
	if err != nil {
		return err
	}
	if c.jsonOut() {
		return c.printJSON(data)
	}
	tw := tabwriter.NewWriter(c.out(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS_FROM\tEXPIRES")
	for _, k := range ks.Keys {
		exp := "-"
		if !k.ExpiresAt.IsZero() {
			exp = k.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.State, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339), exp)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.out(), "rotation every %s, new keys published %s before they sign; next rotation %s\n",
		ks.Rotation, ks.Lead, ks.NextRotation.Format(time.RFC3339))
	return nil
}

func cmdKeysRotate(c *cli) error {
	if err := c.nargs(0, "no arguments"); err != nil {
		return err
	}
	if !c.fl.Bool("now") {
		ks, _, err := c.keySchedule()
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out(), "keys rotate every %s on their own; the next rotation starts %s. Pass --now to start one at once.\n",
			ks.Rotation, ks.NextRotation.Format(time.RFC3339))
		return nil
	}
	base, err := c.issuerPath()
	if err != nil {
		return err
	}
	var got struct {
		Key issuer.KeyInfo `json:"key"`
	}
	return c.send(http.MethodPost, base+"/keys/rotate", map[string]any{"now": true}, &got, func() error {
		_, err := fmt.Fprintf(c.out(), "key %s (%s) published now; it signs from %s\n", got.Key.ID, got.Key.Alg, got.Key.ActiveAt.Format(time.RFC3339))
		return err
	})
}

func hashSecretCommand(run runner) *cobra.Command {
	return leaf(run, "hash-secret [--algorithm argon2id|bcrypt|sha256]",
		"Hashes a client secret for secret_hash (read from standard input or a prompt)", cmdHashSecret, func(c *cobra.Command) {
			c.Flags().String("algorithm", "argon2id", "Hash: argon2id, bcrypt or sha256 (sha256 only for generated, high-entropy secrets)")
		})
}

func cmdHashSecret(c *cli) error {
	if err := c.nargs(0, "no arguments (the secret is read from standard input)"); err != nil {
		return err
	}
	alg := c.fl.String("algorithm")
	switch alg {
	case issuer.HashAlgArgon2id, issuer.HashAlgBcrypt, issuer.HashAlgSHA256:
	default:
		return usageErr("--algorithm %q: want argon2id, bcrypt or sha256", alg)
	}
	secret, err := c.readSecret("Secret")
	if err != nil {
		return err
	}
	h, err := issuer.HashSecretWith(alg, secret)
	if err != nil {
		return usageErr("hash-secret: %v", err)
	}
	_, err = fmt.Fprintln(c.out(), h)
	return err
}
