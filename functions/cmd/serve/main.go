// Command serve runs gcpconn's functions in one HTTP server: locally (scripts/dev.sh), in
// tests, and as a plain Cloud Run service (GOOGLE_BUILDABLE=./functions/cmd/serve).
//
//	serve [-addr 127.0.0.1:8080] [-framework]
//
// By default every function is served at /<function-name>: /register, /verify, /list,
// /mint-token, /rotate, /sweep, /sweep-shard and /refresh (refresh accepts binary or structured CloudEvents and raw
// Pub/Sub push bodies). With FUNCTION_TARGET=<EntryPoint> (e.g. MintToken) only that
// function is served, at / and at its own path.
//
// -framework serves through the functions framework instead, exactly as a deployed function
// is: every entry point at /<EntryPoint> (/Register, /MintToken, ...), or FUNCTION_TARGET's at
// every path. It is there to check the deployment wiring of the root package, whose init
// registers the entry points; the default mode serves the same handlers at the kebab-case
// paths of the HTTP contract (the framework's registry cannot give a function a second path).
//
// The address is -addr, else ":$PORT" when PORT is set (Cloud Run), else 127.0.0.1:8080; port 0
// picks a free port. Once listening, serve prints "serving http://HOST:PORT" on stdout.
// Configuration comes from the environment (see functions/app); a wrong one makes serve exit
// with status 1 at once, naming the variable. SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/gcpconn/gcpconn" // registers the entry points with the functions framework
	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/functions/httpapi"
	"github.com/gcpconn/gcpconn/internal/httpserve"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address host:port (default 127.0.0.1:8080, or :$PORT when PORT is set)")
	framework := fs.Bool("framework", false, "serve through the functions framework at /<EntryPoint>, as deployed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// A wrong configuration stops the process before it serves, naming the variable: on Cloud
	// Run the new revision then fails to start and the previous one keeps serving.
	if _, err := app.ConfigFromEnv(os.Getenv); err != nil {
		return fmt.Errorf("not serving: %w", err)
	}
	if *addr == "" {
		*addr = "127.0.0.1:8080"
		if p := os.Getenv("PORT"); p != "" {
			*addr = ":" + p
		}
	}
	if *framework {
		host, port, err := net.SplitHostPort(*addr)
		if err != nil {
			return fmt.Errorf("bad -addr %q: %w", *addr, err)
		}
		fmt.Printf("serving http://%s through the functions framework\n", *addr)
		return funcframework.StartHostPort(host, port)
	}

	a := app.Default()
	defer a.FlushLogs() // the log lines of the last requests
	h, err := handler(a.API, os.Getenv("FUNCTION_TARGET"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := newServer(h)
	fmt.Printf("serving http://%s\n", ln.Addr())

	// The root package's init exits at SIGTERM once the logs are flushed (the functions
	// framework has no shutdown of its own); here SIGTERM shuts the server down gracefully,
	// letting the requests in flight finish, and the deferred FlushLogs runs after them.
	signal.Reset(syscall.SIGTERM)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, func() { fmt.Println("shutting down: requests in flight may finish (10 s)") })
	return httpserve.Serve(ctx, srv, ln, 10*time.Second)
}

// newServer serves h with read deadlines for headers and for whole requests (the handlers
// bound each body again, by httpapi.API.BodyTimeout and the request's deadline), so a caller
// that drips bytes cannot hold a connection open.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10*time.Second + httpapi.DefaultBodyTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// handler serves every route of api, or only target's (an entry point name such as
// MintToken, or its path name mint-token) at / and its own path.
func handler(api *httpapi.API, target string) (http.Handler, error) {
	if target == "" {
		return api.Handler(), nil
	}
	var names []string
	for _, rt := range api.Routes() {
		if strings.EqualFold(target, rt.Name) || target == strings.TrimPrefix(rt.Path, "/") {
			return rt.Handler, nil
		}
		names = append(names, rt.Name)
	}
	return nil, fmt.Errorf("FUNCTION_TARGET=%q is not a function; the functions are %s", target, strings.Join(names, ", "))
}
