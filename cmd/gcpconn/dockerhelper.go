package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gcpconn/gcpconn/functions/client"
)

// errCredentialsNotFound is the docker-credential-helpers text docker recognises.
const errCredentialsNotFound = "credentials not found in native keychain"

func dockerHelperCommand() *command {
	return &command{
		Name:    "docker-credential-helper",
		Args:    "get|store|erase|list|version",
		Summary: "Speak docker's credential-helper protocol (what docker-credential-gcpconn runs)",
		Help: `
docker runs docker-credential-gcpconn VERB for the hosts that 'gcpconn login
--resource-type docker-registry' configured (credHelpers in docker's config.json):
  get    reads a registry host on stdin, mints a token with the connector recorded for that
         host, and prints {"ServerURL","Username":"oauth2accesstoken","Secret"}
  store  accepts and discards what docker offers (gcpconn mints a fresh token each time)
  erase  reads a host on stdin and forgets its connector (docker logout HOST)
  list   prints {"HOST":"oauth2accesstoken"} for every configured host
Errors are printed on stdout with a non-zero exit, as the protocol asks.

Examples:
  echo europe-west1-docker.pkg.dev | docker-credential-gcpconn get
  gcpconn docker-credential-helper list`,
		Run: func(ctx context.Context, e *env, p *parsed) error {
			if code := dockerHelperMain(ctx, e, p.Pos); code != 0 {
				return &cliError{code: code, msg: "docker credential helper failed (details above)"}
			}
			return nil
		},
	}
}

// registryHost normalises what docker sends (https://host/, host/v2/, host) to a host.
func registryHost(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	host, _, _ := strings.Cut(s, "/")
	return host
}

// dockerHelperMain runs one helper verb and returns the exit code.
func dockerHelperMain(ctx context.Context, e *env, args []string) int {
	fail := func(msg string) int {
		fmt.Fprintln(e.Stdout, oneLine(msg))
		return exitFailure
	}
	if len(args) != 1 {
		return fail("usage: docker-credential-gcpconn get|store|erase|list|version")
	}
	switch args[0] {
	case "version":
		fmt.Fprintln(e.Stdout, "docker-credential-gcpconn (gcpconn)")
		return 0
	case "store":
		_, _ = io.Copy(io.Discard, io.LimitReader(e.Stdin, 1<<20))
		return 0
	case "list":
		regs, _, err := readRegistries(e)
		if err != nil {
			return fail(err.Error())
		}
		out := map[string]string{}
		for host := range regs {
			out[host] = "oauth2accesstoken"
		}
		b, _ := json.Marshal(out)
		fmt.Fprintln(e.Stdout, string(b))
		return 0
	case "get", "erase":
	default:
		return fail(fmt.Sprintf("unknown verb %q: use get, store, erase, list or version", args[0]))
	}
	in, err := io.ReadAll(io.LimitReader(e.Stdin, 4096))
	if err != nil {
		return fail(err.Error())
	}
	server := strings.TrimSpace(string(in))
	host := registryHost(server)
	regs, path, err := readRegistries(e)
	if err != nil {
		return fail(err.Error())
	}
	b, ok := regs[host]
	if args[0] == "erase" {
		if ok {
			delete(regs, host)
			if err := writeRegistries(path, regs); err != nil {
				return fail(err.Error())
			}
		}
		return 0
	}
	if !ok {
		return fail(errCredentialsNotFound)
	}
	if e.global.str("url") == "" && b.URL != "" {
		e.global.Flags["url"] = []string{b.URL}
	}
	c, err := e.client()
	if err != nil {
		return fail("gcpconn: " + err.Error())
	}
	cred, err := c.Mint(ctx, client.MintRequest{Connector: b.Connector, ResourceType: "docker-registry", ResourceID: b.ResourceID})
	if err != nil {
		return fail("gcpconn: connector " + b.Connector + ": " + err.Error())
	}
	if cred.Docker == nil {
		return fail("gcpconn: the server's answer has no docker credentials")
	}
	out, _ := json.Marshal(map[string]string{"ServerURL": server, "Username": cred.Docker.Username, "Secret": cred.Docker.Password})
	fmt.Fprintln(e.Stdout, string(out))
	return 0
}
