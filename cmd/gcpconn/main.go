// Command gcpconn is the command-line client of a gcpconn deployment: it registers,
// inspects, verifies and deletes GCP service connectors, mints short-lived tokens, and
// configures local clients (kubectl, docker, Google client libraries) to use them.
//
//	gcpconn [--url URL] [--id-token TOKEN] [-o table|json] COMMAND [ARGS]
//
// Run `gcpconn help` for the commands and `gcpconn COMMAND --help` for each one.
//
// # Helper modes
//
// gcpconn is also the credential helper of the clients it configures:
//   - kubectl runs `gcpconn token --exec-credential CONNECTOR --resource-type
//     kubernetes-cluster --resource-id ID` (a client.authentication.k8s.io/v1 exec plugin)
//     for a fresh token whenever the last one expires;
//   - docker runs `docker-credential-gcpconn get` (this binary under that name, or
//     `gcpconn docker-credential-helper get`) and gets an access token for the registry.
//
// # Server and caller identity
//
// The server is --url or GCPCONN_URL. The caller's ID token (Google's, or a trusted issuer's:
// a CI job's or a Kubernetes pod's own OIDC token) comes from --id-token or GCPCONN_ID_TOKEN;
// else from the file GCPCONN_ID_TOKEN_FILE (a projected service-account token); else, inside
// GitHub Actions, from the job's OIDC token endpoint for the audience; else, in development,
// from the emulator (GCPCONN_DEV_ISSUER and GCPCONN_DEV_EMAIL); else from the local Google credentials for the audience
// GCPCONN_AUDIENCE (default: the URL) — a service-account key signs its own ID-token
// request; user accounts pass `gcloud auth print-identity-token` as --id-token; on Google
// Cloud the metadata server provides one. See functions/client.Identity.
//
// # Exit codes
//
//	0  success
//	1  an unexpected failure (I/O, an internal server error, a malformed answer)
//	2  usage: unknown command or flag, missing argument
//	3  the server refused the request: invalid_argument, failed_precondition, already_exists, conflict
//	4  not_found: no such connector (or the caller may not see it)
//	5  the caller is not authenticated or not allowed: unauthenticated, permission_denied, or
//	   no ID token could be obtained for the caller
//	6  Google refused the connector's credentials: upstream_denied, upstream_not_found
//	7  unavailable: the server, the issuer of the caller's ID token or Google could not be
//	   reached or asked to retry later
//	8  verification reported errors (verify, register with errors, list-resources)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

// Exit codes; see the package documentation.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitRefused     = 3
	exitNotFound    = 4
	exitAuth        = 5
	exitUpstream    = 6
	exitUnavailable = 7
	exitVerify      = 8
)

// cliError is an error with its exit code.
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &cliError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func verifyErrorf(format string, args ...any) error {
	return &cliError{code: exitVerify, msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to its exit code: the server's code for API errors.
func exitCode(err error) int {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code
	}
	var ie *client.IdentityError
	if errors.As(err, &ie) {
		if errors.Is(err, context.DeadlineExceeded) || isNetError(err) {
			// The issuer of the caller's token (the emulator, a metadata server) could not be
			// reached: nothing was denied.
			return exitUnavailable
		}
		return exitAuth
	}
	switch client.CodeOf(err) {
	case "":
		if errors.Is(err, context.DeadlineExceeded) || isNetError(err) {
			return exitUnavailable
		}
		return exitFailure
	case "invalid_argument", "failed_precondition", "already_exists", "conflict", "request_too_large", "method_not_allowed":
		return exitRefused
	case "not_found":
		return exitNotFound
	case "unauthenticated", "permission_denied":
		return exitAuth
	case "upstream_denied", "upstream_not_found":
		return exitUpstream
	case "upstream_unavailable":
		return exitUnavailable
	}
	return exitFailure
}

// isNetError reports whether err is a network failure: a dial, read or write that failed
// (connection refused or reset, an unknown host), or such an error in text form.
func isNetError(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "no such host") || strings.Contains(s, "i/o timeout")
}

// env is what a command runs with; tests build their own.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Now    func() time.Time
	// Terminal reports whether stdin is an interactive terminal (prompts, hidden input).
	Terminal bool
	// Exe is the path of this binary, for the helpers it configures.
	Exe string
	// StdoutTerminal reports whether stdout is a terminal (sweep --watch draws a progress bar).
	StdoutTerminal bool
	// Sleep waits between polls; nil waits for real (tests step it).
	Sleep func(ctx context.Context, d time.Duration) error

	global *parsed
}

func (e *env) output() string {
	if o := e.global.str("output"); o != "" {
		return o
	}
	return "table"
}

func (e *env) json() bool { return e.output() == "json" }

// serverURL is --url, else GCPCONN_URL.
func (e *env) serverURL() string {
	if u := e.global.str("url"); u != "" {
		return strings.TrimRight(u, "/")
	}
	return strings.TrimRight(e.Getenv("GCPCONN_URL"), "/")
}

// client builds the API client for the configured server and caller identity.
func (e *env) client() (*client.Client, error) {
	u := e.serverURL()
	if u == "" {
		return nil, usageErrorf("no gcpconn server: pass --url URL or set GCPCONN_URL")
	}
	aud := e.Getenv("GCPCONN_AUDIENCE")
	if aud == "" {
		aud = u
	}
	tok := e.global.str("id-token")
	if tok == "" {
		tok = e.Getenv("GCPCONN_ID_TOKEN")
	}
	return &client.Client{BaseURL: u, Token: client.CallerToken(client.Identity{
		IDToken:     tok,
		IDTokenFile: e.Getenv("GCPCONN_ID_TOKEN_FILE"),
		DevIssuer:   e.Getenv("GCPCONN_DEV_ISSUER"),
		DevEmail:    e.Getenv("GCPCONN_DEV_EMAIL"),
		Audience:    aud,
		Source:      e.Getenv("GCPCONN_IDENTITY"),
		Getenv:      e.Getenv,
		Now:         e.Now,
	})}, nil
}

// command is one gcpconn command.
type command struct {
	Name    string
	Args    string // positional arguments, for the usage line
	Summary string
	Help    string // description and examples
	Flags   []flagSpec
	Extras  bool // accepts --key=value configuration settings
	Run     func(ctx context.Context, e *env, p *parsed) error
}

// globalFlags are accepted by every command.
var globalFlags = []flagSpec{
	{Name: "url", Value: "URL", Help: "base URL of the gcpconn functions (default $GCPCONN_URL)"},
	{Name: "id-token", Value: "TOKEN", Help: "the caller's ID token: Google's, or a trusted issuer's such as a CI job's (default $GCPCONN_ID_TOKEN, else the local credentials)"},
	{Name: "output", Short: "o", Value: "FORMAT", Help: "table (default) or json"},
	{Name: "help", Short: "h", Help: "show help"},
}

func commands() []*command {
	return []*command{
		listTypesCommand(), registerCommand(), listCommand(), describeCommand(), verifyCommand(),
		listResourcesCommand(), updateCommand(), rotateCommand(), deleteCommand(), tokenCommand(), loginCommand(),
		serveMetadataCommand(), dockerHelperCommand(), sweepCommand(),
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	exe, _ := os.Executable()
	e := &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now,
		Terminal: isTerminal(os.Stdin), StdoutTerminal: isTerminal(os.Stdout), Exe: exe}
	os.Exit(run(ctx, e, os.Args))
}

// run executes argv (argv[0] is the program name) and returns the exit code. Errors are
// printed as one line on stderr: "error: CODE: message".
func run(ctx context.Context, e *env, argv []string) int {
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	e.global = &parsed{Flags: map[string][]string{}}
	if strings.HasPrefix(filepath.Base(argv[0]), "docker-credential-") {
		// docker runs docker-credential-gcpconn VERB.
		return dockerHelperMain(ctx, e, argv[1:])
	}
	lead, args, err := leadingGlobalFlags(argv[1:])
	if err != nil {
		fmt.Fprintf(e.Stderr, "error: %v\nrun `gcpconn help` for usage\n", err)
		return exitUsage
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		if len(args) > 1 {
			if c := findCommand(args[1]); c != nil {
				fmt.Fprint(e.Stdout, commandHelp(c))
				return exitOK
			}
		}
		fmt.Fprint(e.Stdout, mainHelp())
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(e.Stderr, "error: unknown command %q; run `gcpconn help` for the commands\n", args[0])
		return exitUsage
	}
	p, err := parseArgs(append(append([]flagSpec{}, c.Flags...), globalFlags...), append(lead, args[1:]...), c.Extras)
	if err != nil {
		fmt.Fprintf(e.Stderr, "error: %v\nrun `gcpconn %s --help` for usage\n", err, c.Name)
		return exitUsage
	}
	if p.bool("help") {
		fmt.Fprint(e.Stdout, commandHelp(c))
		return exitOK
	}
	e.global = p
	if o := e.output(); o != "table" && o != "json" {
		fmt.Fprintf(e.Stderr, "error: --output must be table or json, not %q\n", o)
		return exitUsage
	}
	if err := c.Run(ctx, e, p); err != nil {
		code := exitCode(err)
		fmt.Fprintf(e.Stderr, "error: %s\n", oneLine(cliWords(c, err.Error())))
		if code == exitUsage {
			fmt.Fprintf(e.Stderr, "run `gcpconn %s --help` for usage\n", c.Name)
		}
		return code
	}
	return exitOK
}

// leadingGlobalFlags takes the global flags written before the command
// (gcpconn -o json list, gcpconn --url URL verify ...) off args: it returns them, to be
// parsed with the command's own, and the rest, which starts with the command. --help and -h
// stay in the rest, as the command to run.
func leadingGlobalFlags(args []string) (lead, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--help" || a == "-h" || !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return lead, args[i:], nil
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var spec *flagSpec
		for j, f := range globalFlags {
			if f.Name != "help" && (name == f.Name && strings.HasPrefix(a, "--") || f.Short != "" && a[:2] != "--" && name == f.Short) {
				spec = &globalFlags[j]
			}
		}
		if spec == nil {
			flag, _, _ := strings.Cut(a, "=") // never echo a value: it may be a token
			return nil, nil, usageErrorf("unknown flag %s before the command; the flags accepted there are --url, --id-token and -o/--output", flag)
		}
		lead = append(lead, a)
		if !hasVal && spec.Value != "" {
			if i+1 >= len(args) {
				return nil, nil, usageErrorf("--%s needs a value (%s)", spec.Name, spec.Value)
			}
			i++
			lead = append(lead, args[i])
		}
	}
	return lead, nil, nil
}

// cliWords puts the server's words for request fields into the command line's: a refusal
// that says "set verify to false" tells the CLI user to pass --no-verify.
func cliWords(c *command, msg string) string {
	for _, f := range c.Flags {
		if f.Name == "no-verify" {
			return strings.ReplaceAll(msg, "set verify to false", "pass --no-verify")
		}
	}
	return msg
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func mainHelp() string {
	var b strings.Builder
	b.WriteString(`gcpconn: manage GCP service connectors and use their short-lived credentials.

Usage: gcpconn [--url URL] [--id-token TOKEN] [-o table|json] COMMAND [ARGS]

Commands:
`)
	cs := commands()
	for _, c := range cs {
		fmt.Fprintf(&b, "  %-24s %s\n", c.Name, c.Summary)
	}
	b.WriteString(`
Server and identity:
  --url / GCPCONN_URL            the functions' base URL, e.g. https://europe-west1-PROJECT.cloudfunctions.net
  --id-token / GCPCONN_ID_TOKEN  your ID token, e.g. "$(gcloud auth print-identity-token)", or a CI job's
                                 OIDC token from a trusted issuer (GitLab id_tokens)
  GCPCONN_ID_TOKEN_FILE          read the ID token from a file (Kubernetes projected service-account token)
  in GitHub Actions              with "permissions: id-token: write" the job's own OIDC token is used
  GCPCONN_AUDIENCE               the audience the server expects (default: the URL)
  GCPCONN_DEV_ISSUER, GCPCONN_DEV_EMAIL  development: the local emulator mints your ID token
  Without a token gcpconn uses GOOGLE_APPLICATION_CREDENTIALS / gcloud's ADC file (service
  account keys) or the metadata server.

Exit codes: 0 ok, 1 failure, 2 usage, 3 refused (invalid_argument, failed_precondition,
already_exists), 4 not_found, 5 unauthenticated/permission_denied, 6 Google denied the
connector (upstream_denied), 7 unavailable, 8 verification reported errors.

Run 'gcpconn COMMAND --help' for a command's flags and examples.
`)
	return b.String()
}

func commandHelp(c *command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: gcpconn %s", c.Name)
	if c.Args != "" {
		b.WriteString(" " + c.Args)
	}
	b.WriteString(" [flags]\n\n" + c.Summary + ".\n")
	if c.Help != "" {
		b.WriteString("\n" + strings.TrimSpace(c.Help) + "\n")
	}
	if len(c.Flags) > 0 {
		b.WriteString("\nFlags:\n" + flagHelp(c.Flags))
	}
	b.WriteString("\nGlobal flags:\n" + flagHelp(globalFlags))
	return b.String()
}
