package app

import (
	"context"
	"os"

	"github.com/gcpconn/gcpconn/functions/internal/tracing"
)

// readTracing reads GCPCONN_TRACE_SAMPLE and GCPCONN_TRACE_EXPORTER (see functions/internal/
// tracing) into c, and returns what is wrong with them.
func (c *Config) readTracing(get func(string) string) (errs []string) {
	t, err := tracing.ConfigFromEnv(get, c.Store == StoreGoogle)
	if err != nil {
		errs = append(errs, err.Error())
	}
	t.Project = c.Project
	c.Tracing = t
	return errs
}

// startTracing installs the tracer provider of a's configuration (once, for the default
// App). A failure is logged and leaves tracing off: telemetry never stops the service.
func startTracing(a *App) {
	if _, err := tracing.Install(context.Background(), a.Config.Tracing, os.Stderr); err != nil {
		a.Log.Error("app: tracing is off", "error", err.Error())
	}
}
