// Command gcloudargs prints what scripts/deploy.sh needs from infra/functions.json:
//
//	gcloudargs [flags] names             the function names, one a line
//	gcloudargs [flags] called-by CALLER  the functions that CALLER (users, scheduler, eventarc) invokes
//	gcloudargs [flags] setting NAME      a deploy setting (the given value, else the default)
//	gcloudargs [flags] secret-prefix     the prefix of every connector secret's name
//	gcloudargs [flags] deploy NAME       the `gcloud functions deploy` arguments, NUL-terminated
//	gcloudargs [flags] indexes           the `gcloud firestore indexes composite create` flags of
//	                                     each index in infra/firestore.indexes.json, a line each
//	gcloudargs [flags] federated         the functions whose invoker IAM check is off (federated_functions)
//	gcloudargs [flags] check             checks the configuration the functions would get, as they do
//	                                     at start, and that federated_functions may be set: exits 1
//	                                     naming the variable or setting at fault
//
// Flags: -manifest PATH, -indexes PATH, -project, -region, -runtime-sa, -events-sa, -min-instances NAME=N
// and -set SETTING=VALUE (repeatable; an empty VALUE means the manifest default).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/infra/manifest"
)

type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	p[k] = v
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gcloudargs:", err)
		os.Exit(1)
	}
}

func run(argv []string) error {
	fs := flag.NewFlagSet("gcloudargs", flag.ContinueOnError)
	path := fs.String("manifest", "infra/functions.json", "the deploy manifest")
	indexes := fs.String("indexes", "infra/firestore.indexes.json", "the Firestore index file")
	d := manifest.Deploy{Given: pairs{}, MinInstances: pairs{}}
	fs.StringVar(&d.Project, "project", "", "project id")
	fs.StringVar(&d.Region, "region", "", "region")
	fs.StringVar(&d.RuntimeSA, "runtime-sa", "", "runtime service account email")
	fs.StringVar(&d.EventsSA, "events-sa", "", "Eventarc trigger service account email")
	fs.Var(pairs(d.Given), "set", "SETTING=VALUE (repeatable)")
	fs.Var(pairs(d.MinInstances), "min-instances", "FUNCTION=N (repeatable)")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	m, err := manifest.Load(*path)
	if err != nil {
		return err
	}
	switch args := fs.Args(); {
	case len(args) == 1 && args[0] == "names":
		fmt.Println(strings.Join(m.Names(""), "\n"))
	case len(args) == 2 && args[0] == "called-by":
		fmt.Println(strings.Join(m.Names(args[1]), "\n"))
	case len(args) == 1 && args[0] == "secret-prefix":
		fmt.Println(m.SecretPrefix)
	case len(args) == 2 && args[0] == "setting":
		v, err := m.Setting(args[1], d.Given)
		if err != nil {
			return err
		}
		fmt.Println(v)
	case len(args) == 2 && args[0] == "deploy":
		words, err := m.GcloudDeploy(args[1], d)
		if err != nil {
			return err
		}
		for _, w := range words {
			fmt.Print(w, "\x00")
		}
	case len(args) == 1 && args[0] == "federated":
		names, err := m.FederatedFunctions(d.Given)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Println(n)
		}
	case len(args) == 1 && args[0] == "check":
		return check(m, d.Given)
	case len(args) == 1 && args[0] == "indexes":
		idx, err := manifest.LoadIndexes(*indexes)
		if err != nil {
			return err
		}
		for _, in := range idx {
			fmt.Println(strings.Join(in.GcloudArgs(), " "))
		}
	default:
		return fmt.Errorf("usage: gcloudargs [flags] names | called-by CALLER | secret-prefix | setting NAME | deploy NAME | indexes | federated | check")
	}
	return nil
}

// check reads the functions' environment as functions/app does at start (the same code), and
// refuses federated_functions unless the configuration may run with the invoker check off.
func check(m *manifest.Manifest, given map[string]string) error {
	env, err := m.Environment(given)
	if err != nil {
		return err
	}
	cfg, err := app.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return fmt.Errorf("the functions would not start: %w", err)
	}
	federated, err := m.FederatedFunctions(given)
	if err != nil {
		return err
	}
	if len(federated) > 0 {
		if err := app.CheckFederatedExposure(cfg); err != nil {
			return fmt.Errorf("federated_functions=%s: %w", strings.Join(federated, ","), err)
		}
	}
	return nil
}
