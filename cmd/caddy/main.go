// Command caddy is the custom Caddy build with authgate: exactly what
// `xcaddy build --with github.com/authgate/caddy-authgate` generates.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/authgate/caddy-authgate"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
