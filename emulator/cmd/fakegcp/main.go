// Command fakegcp runs the fake Google Cloud of emulator/ for local development.
//
//	go run ./emulator/cmd/fakegcp [-world FILE] [-addr 127.0.0.1:PORT] [-keys-dir DIR] [-issuers ci,...]
//
// It prints the environment (KEY=VALUE lines, ready for `export`) that points gcpconn and
// the Google client libraries at the fake, then the credential files it wrote, and runs
// until SIGINT or SIGTERM. Without -world it serves the built-in demo world; -print-world
// prints that world's YAML for copying and editing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/world"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakegcp:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakegcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	worldFile := fs.String("world", "", "world file (YAML or JSON); default: the built-in demo world")
	addr := fs.String("addr", "127.0.0.1:0", "loopback address of the identity/metadata/OIDC/admin listener")
	keysDir := fs.String("keys-dir", "", "directory to write credential files (EMAIL.json) and ca.pem into")
	printWorld := fs.Bool("print-world", false, "print the demo world's YAML and exit")
	issuers := fs.String("issuers", "ci", "comma-separated names of additional OIDC issuers (CI systems) to serve at BASE/issuers/NAME")
	verbose := fs.Bool("v", false, "log every request (service, method, path, status)")
	pushURL := fs.String("push-url", "", "deliver Secret Manager notifications to this URL as Pub/Sub pushes (without PUBSUB_EMULATOR_HOST)")
	pushEmail := fs.String("push-email", "", "authenticate each push with an ID token of this email (the push subscription's identity)")
	pushAudience := fs.String("push-audience", "", "the audience of the push ID token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *printWorld {
		_, err := stdout.Write(world.DemoYAML())
		return err
	}
	w := world.Demo()
	if *worldFile != "" {
		var err error
		if w, err = world.Load(*worldFile); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := fakegcp.Start(ctx, w, fakegcp.Options{
		Addr:               *addr,
		KeysDir:            *keysDir,
		Issuers:            splitNames(*issuers),
		PubSubEmulatorHost: os.Getenv("PUBSUB_EMULATOR_HOST"),
		PushURL:            *pushURL,
		PushEmail:          *pushEmail,
		PushAudience:       *pushAudience,
		Logger:             log,
	})
	if err != nil {
		return err
	}
	for _, line := range srv.Env() {
		fmt.Fprintln(stdout, line)
	}
	files := srv.KeyFiles()
	emails := make([]string, 0, len(files))
	for e := range files {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	for _, e := range emails {
		fmt.Fprintf(stdout, "# key %s %s\n", e, files[e])
	}
	fmt.Fprintf(stdout, "# fakegcp ready; admin at %s/admin/world\n", srv.BaseURL())
	<-ctx.Done()
	log.Info("fakegcp: stopping")
	return srv.Close()
}

// splitNames splits a comma-separated list, dropping empty names.
func splitNames(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
