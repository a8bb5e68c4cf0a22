package module

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes of `caddy authgate` commands.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the admin endpoint could not be reached, or failed
	ExitBadInput = 2 // invalid arguments or flags, or a 400 answer
	ExitNotFound = 3 // no such issuer, client, secret, ...
	ExitConflict = 4 // read-only (config-defined) or conflicting state
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "authgate",
		Usage: "client|user|revoke|keys|hash-secret ...",
		Short: "Manages authgate clients, users, revocations and signing keys at run time",
		Long: `
Manages the authgate issuers of a running Caddy through its admin API
(admin.api.authgate, under /authgate/ on the admin endpoint): clients and
their secrets, users, revocations and signing keys. Changes apply at once,
without a reload, on every instance sharing the store.

Like 'caddy reload', the commands talk to the admin endpoint at --address
(default ` + caddy.DefaultAdminListen + `) or the one named by --config. --json prints the
API's answer as is. Exit codes: 0 ok, 1 failure (unreachable, storage),
2 invalid input, 3 not found, 4 conflict (config-defined resources are
read-only; a rotation already in progress).`,
		CobraFunc: func(cmd *cobra.Command) { buildAuthgateCommand(cmd, caddyRunner) },
	})
}

// cliError is a command's failure with its exit code.
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &cliError{code: ExitBadInput, msg: fmt.Sprintf(format, args...)}
}

func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code
	}
	return ExitFailure
}

// cli is one command invocation.
type cli struct {
	cmd  *cobra.Command
	fl   caddycmd.Flags
	args []string
}

type cliFunc func(c *cli) error

// runner turns a cliFunc into a cobra RunE: caddyRunner for the real
// binary (Caddy's exit-code plumbing), tests record the code instead.
type runner func(f cliFunc) func(*cobra.Command, []string) error

func caddyRunner(f cliFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
			err := f(&cli{cmd: cmd, fl: fl, args: args})
			return exitCode(err), err
		})(cmd, args)
	}
}

func (c *cli) out() io.Writer { return c.cmd.OutOrStdout() }

func (c *cli) jsonOut() bool { return c.fl.Bool("json") }

func (c *cli) nargs(n int, names string) error {
	if len(c.args) != n {
		return usageErr("%s: want %s, got %d argument(s)", c.cmd.CommandPath(), names, len(c.args))
	}
	return nil
}

// adminAddress is the admin endpoint: --address, else the one of --config,
// else Caddy's default.
func (c *cli) adminAddress() (string, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(c.fl.String("address"), nil, c.fl.String("config"), c.fl.String("adapter"))
	if err != nil {
		return "", &cliError{code: ExitFailure, msg: fmt.Sprintf("couldn't determine the admin API address: %v", err)}
	}
	return addr, nil
}

// call sends one admin API request and decodes the JSON answer into out
// (when non-nil). Error answers become a cliError with the API's message
// and an exit code for its status.
func (c *cli) call(method, path string, body any, out any) ([]byte, error) {
	addr, err := c.adminAddress()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, path, nil, rd)
	if err != nil {
		return nil, apiError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, &cliError{code: ExitFailure, msg: "reading the answer: " + err.Error()}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, &cliError{code: ExitFailure, msg: fmt.Sprintf("unexpected answer from %s: %v", path, err)}
		}
	}
	return data, nil
}

// apiError maps caddycmd.AdminAPIRequest's error ("... HTTP 400: {json}")
// to a cliError carrying the API's own message.
func apiError(err error) error {
	s := err.Error()
	idx := strings.Index(s, "HTTP ")
	if idx < 0 {
		return &cliError{code: ExitFailure, msg: s}
	}
	rest := s[idx+5:]
	codeStr, body, _ := strings.Cut(rest, ": ")
	status, convErr := strconv.Atoi(codeStr)
	if convErr != nil {
		return &cliError{code: ExitFailure, msg: s}
	}
	msg := strings.TrimSpace(body)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) == nil && e.Error != "" {
		msg = e.Error
	}
	code := ExitFailure
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		code = ExitBadInput
	case http.StatusNotFound:
		code = ExitNotFound
	case http.StatusConflict:
		code = ExitConflict
	}
	return &cliError{code: code, msg: fmt.Sprintf("%s (HTTP %d)", msg, status)}
}

// issuerPath is /authgate/issuers/{--issuer}; without --issuer, the one
// issuer of the running config.
func (c *cli) issuerPath() (string, error) {
	iss := c.fl.String("issuer")
	if iss == "" {
		var list struct {
			Issuers []struct {
				Issuer string `json:"issuer"`
			} `json:"issuers"`
		}
		if _, err := c.call(http.MethodGet, "/authgate/issuers", nil, &list); err != nil {
			return "", err
		}
		if len(list.Issuers) == 0 {
			return "", &cliError{code: ExitNotFound, msg: "the running config has no authgate_issuer"}
		}
		if len(list.Issuers) != 1 {
			var names []string
			for _, i := range list.Issuers {
				names = append(names, i.Issuer)
			}
			return "", usageErr("--issuer is required: the running config has %d issuers (%s)", len(list.Issuers), strings.Join(names, ", "))
		}
		iss = list.Issuers[0].Issuer
	}
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", usageErr("--issuer %q: want the issuer URL, e.g. https://auth.example.com", iss)
	}
	return "/authgate/issuers/" + url.PathEscape(iss), nil
}

// printJSON prints an API answer as is (--json).
func (c *cli) printJSON(data []byte) error {
	_, err := c.out().Write(data)
	return err
}

// send makes one request: with --json it prints the answer as is,
// otherwise it decodes the answer into out and calls show.
func (c *cli) send(method, path string, body, out any, show func() error) error {
	data, err := c.call(method, path, body, out)
	if err != nil {
		return err
	}
	if c.jsonOut() {
		return c.printJSON(data)
	}
	return show()
}

// pathOf checks that the command has exactly one argument (named what)
// and returns the resource path of it.
func (c *cli) pathOf(what string, path func(string) (string, error)) (string, error) {
	if err := c.nargs(1, what); err != nil {
		return "", err
	}
	return path(c.args[0])
}

// readSecret reads a secret or password: the first line of stdin, or
// twice from the terminal.
func (c *cli) readSecret(prompt string) (string, error) {
	in := c.cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprint(c.cmd.ErrOrStderr(), prompt+": ")
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(c.cmd.ErrOrStderr())
		if err != nil {
			return "", err
		}
		fmt.Fprint(c.cmd.ErrOrStderr(), "Confirm "+strings.ToLower(prompt)+": ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(c.cmd.ErrOrStderr())
		if err != nil {
			return "", err
		}
		if !bytes.Equal(a, b) {
			return "", usageErr("the two entries differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageErr("no %s on standard input", strings.ToLower(prompt))
	}
	return line, nil
}

// buildAuthgateCommand adds the subcommands to the `authgate` command.
func buildAuthgateCommand(root *cobra.Command, run runner) {
	root.AddCommand(clientCommand(run), revokeCommand(run), keysCommand(run), hashSecretCommand(run), userCommand(run))
}

// leaf makes a subcommand with the common flags.
func leaf(run runner, use, short string, f cliFunc, flags func(*cobra.Command)) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, SilenceUsage: true, RunE: run(f)}
	fs := cmd.Flags()
	fs.String("address", "", "Address of the administration API listener (if --config is not used)")
	fs.StringP("config", "c", "", "Configuration file (if --address is not used)")
	fs.StringP("adapter", "a", "", "Name of config adapter to apply (if --config is used)")
	fs.Bool("json", false, "Print the admin API's JSON answer")
	if flags != nil {
		flags(cmd)
	}
	return cmd
}

func issuerFlag(cmd *cobra.Command) {
	cmd.Flags().String("issuer", "", "Issuer URL (default: the running config's only issuer)")
}
