// Package gcpconn is the deployable root of gcpconn: its init registers every function
// with the functions framework by entry-point name, and does nothing else. Deploy each one
// from the repository root with `gcloud functions deploy NAME --source=. --entry-point=ENTRY`
// (see scripts/deploy.sh); locally, functions/cmd/serve serves all of them.
//
// The handlers live in functions/app, which builds the service lazily from the environment
// on the first request. On Cloud Run (K_SERVICE set) init first checks the configuration and
// exits with status 1, naming the variable, when it is wrong: the new revision fails to start
// and the previous one keeps serving. Log lines go to stdout in batches (cloudlog.LineWriter),
// so init also catches SIGTERM, which Cloud Run sends before it stops an instance: the lines
// not yet written are flushed before the process exits.
package gcpconn

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/gcpconn/gcpconn/functions/app"
)

func init() {
	if os.Getenv("K_SERVICE") != "" {
		if _, err := app.ConfigFromEnv(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "gcpconn: not starting:", err)
			os.Exit(1)
		}
	}
	flushOnTerm()
	functions.HTTP("Register", app.Register)
	functions.HTTP("Verify", app.Verify)
	functions.HTTP("List", app.List)
	functions.HTTP("MintToken", app.MintToken)
	functions.HTTP("Rotate", app.Rotate)
	functions.HTTP("Sweep", app.Sweep)
	functions.HTTP("SweepShard", app.SweepShard)
	functions.CloudEvent("Refresh", app.Refresh)
}

// flushOnTerm exits on SIGTERM (as the process would without a handler) once the default
// App's pending log lines are on stdout.
func flushOnTerm() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		app.Default().FlushLogs()
		os.Exit(0)
	}()
}
