// Package gcpconn is the deployable root of gcpconn: its init registers every function
// with the functions framework by entry-point name, and does nothing else. Deploy each one
// from the repository root with `gcloud functions deploy NAME --source=. --entry-point=ENTRY`
// (see scripts/deploy.sh); locally, functions/cmd/serve serves all of them.
//
// The handlers live in functions/app, which builds the service lazily from the environment
// on the first request.
package gcpconn

import (
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/gcpconn/gcpconn/functions/app"
)

func init() {
	functions.HTTP("Register", app.Register)
	functions.HTTP("Verify", app.Verify)
	functions.HTTP("List", app.List)
	functions.HTTP("MintToken", app.MintToken)
	functions.HTTP("Rotate", app.Rotate)
	functions.HTTP("Sweep", app.Sweep)
	functions.HTTP("SweepShard", app.SweepShard)
	functions.CloudEvent("Refresh", app.Refresh)
}
