package module

import "github.com/spf13/cobra"

// userCommand is `caddy authgate user ...`; it needs the user store.
func userCommand(run runner) *cobra.Command {
	return &cobra.Command{Use: "user", Short: "Manages an issuer's local users (needs the user store)", Hidden: true}
}
