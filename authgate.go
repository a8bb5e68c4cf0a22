// Package authgate is the module root that `xcaddy build --with
// github.com/authgate/caddy-authgate` imports: it registers authgate's Caddy
// modules by importing ./module.
package authgate

import (
	// Register the authgate app, handlers, matcher and Caddyfile directives.
	_ "github.com/authgate/caddy-authgate/module"
)
