package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

// sweepPoll is how often `gcpconn sweep --watch` asks how a run stands.
const sweepPoll = 2 * time.Second

func sweepCommand() *command {
	return &command{
		Name:    "sweep",
		Summary: "Start a sweep run, or show one (admins)",
		Help: `
Starts a sweep run: every connector is re-verified, its key repaired or rotated when overdue,
and its old secret versions cleaned up, in shards handed to the sweep workers. Prints the run
as it stands once its shards are published; --watch follows it until every shard is done (a
progress bar on a terminal, a line per change otherwise). --run ID shows (or, with --watch,
follows) a run already started instead; --run latest the latest one.

Exits with 1 when a shard failed every attempt (its connectors are listed, and the next run
checks them again).

Examples:
  gcpconn sweep --watch
  gcpconn sweep --run latest
  gcpconn -o json sweep --run 20261206T201500Z-1a2b3c`,
		Flags: []flagSpec{
			{Name: "watch", Short: "w", Help: "follow the run until it is done"},
			{Name: "run", Value: "ID", Help: "show a run already started (latest: the latest one) instead of starting one"},
			{Name: "concurrency", Value: "N", Help: "connectors checked at once per shard (default: the deployment's)"},
			{Name: "shard-size", Value: "N", Help: "connectors per shard, 1 to 500 (default 100)"},
			{Name: "keep-orphans", Help: "do not delete orphan secrets"},
		},
		Run: runSweep,
	}
}

func runSweep(ctx context.Context, e *env, p *parsed) error {
	if len(p.Pos) > 0 {
		return usageErrorf("sweep takes no arguments, not %q", p.Pos[0])
	}
	o, err := sweepOptions(p)
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	var run *client.SweepRun
	if id := p.str("run"); id != "" {
		if id == "latest" {
			id = ""
		}
		run, err = c.SweepRun(ctx, id)
	} else {
		run, err = c.StartSweep(ctx, o)
	}
	if err != nil {
		return err
	}
	if p.bool("watch") {
		if run, err = e.watchSweep(ctx, c, run); err != nil {
			return err
		}
	}
	if e.json() {
		if err := e.printJSON(run); err != nil {
			return err
		}
	} else {
		e.printSweep(run)
	}
	if run.Shards != nil && run.Shards.Failed > 0 {
		return &cliError{code: exitFailure, msg: fmt.Sprintf("%d shard(s) of sweep run %s failed every attempt; the next run checks their connectors again", run.Shards.Failed, run.Run)}
	}
	return nil
}

// sweepOptions reads --concurrency, --shard-size and --keep-orphans.
func sweepOptions(p *parsed) (client.SweepOptions, error) {
	o := client.SweepOptions{KeepOrphans: p.bool("keep-orphans")}
	for _, f := range []struct {
		name     string
		max      int
		into     *int
		accepted string
	}{{"concurrency", 256, &o.Concurrency, "1 to 256"}, {"shard-size", 500, &o.ShardSize, "1 to 500"}} {
		if v := p.str(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > f.max {
				return o, usageErrorf("--%s must be a number from %s, not %q", f.name, f.accepted, v)
			}
			*f.into = n
		}
	}
	return o, nil
}

// watchSweep asks how run stands every sweepPoll until it is done, showing its progress: a
// bar redrawn in place on a terminal, a line whenever it changed otherwise (nothing with -o
// json, which prints the finished run). Up to maxWatchMisses unavailable answers in a row are
// said on stderr and waited out.
func (e *env) watchSweep(ctx context.Context, c *client.Client, run *client.SweepRun) (*client.SweepRun, error) {
	last, misses := "", 0
	for {
		if line := sweepProgress(run, e.StdoutTerminal); line != last && !e.json() {
			if e.StdoutTerminal {
				fmt.Fprintf(e.Stdout, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(e.Stdout, line)
			}
			last = line
		}
		if run.State == "done" || run.Run == "" {
			if e.StdoutTerminal && !e.json() {
				fmt.Fprintln(e.Stdout)
			}
			return run, nil
		}
		if err := e.sleep(ctx, sweepPoll); err != nil {
			return run, err
		}
		next, err := c.SweepRun(ctx, run.Run)
		if wait, ok := watchMiss(err, &misses); ok {
			if e.StdoutTerminal && !e.json() && last != "" {
				fmt.Fprintln(e.Stdout) // end the bar's line, so that the note stands on its own
				last = ""
			}
			fmt.Fprintf(e.Stderr, "gcpconn: %v; still watching run %s (miss %d of %d)\n", err, run.Run, misses, maxWatchMisses)
			if err := e.sleep(ctx, wait); err != nil {
				return run, err
			}
			continue
		}
		if err != nil {
			return run, err
		}
		misses, run = 0, next
	}
}

// maxWatchMisses is how many answers in a row `sweep --watch` lets the service be unavailable
// before it gives up: the run goes on without a watcher, so a blip of the store must not end
// the watch.
const maxWatchMisses = 5

// maxWatchWait bounds the Retry-After a watch honours between two polls.
const maxWatchWait = 30 * time.Second

// watchMiss reports whether err is an unavailable service (503 upstream_unavailable) that the
// watch rides through, counting it in *misses, and how long to wait first: the answer's
// Retry-After (at most maxWatchWait), else nothing more than the next poll.
func watchMiss(err error, misses *int) (time.Duration, bool) {
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Code != "upstream_unavailable" || *misses >= maxWatchMisses {
		return 0, false
	}
	*misses++
	return min(max(ae.RetryAfter, 0), maxWatchWait), true
}

// sweepProgress is one progress line of run; with bar, it starts with a progress bar.
func sweepProgress(run *client.SweepRun, bar bool) string {
	if run.Shards == nil {
		return fmt.Sprintf("swept in the request: %d checked", run.Checked)
	}
	sh := run.Shards
	finished := sh.Done + sh.Failed
	line := fmt.Sprintf("run %s %s: %d/%d shards (%d failed), %d of %d connectors checked, %d unchecked",
		run.Run, run.State, finished, sh.Planned, sh.Failed, run.Checked, run.Connectors, run.UncheckedCount)
	if !bar {
		return line
	}
	const width = 20
	filled := 0
	if sh.Planned > 0 {
		filled = min(max(finished*width/sh.Planned, 0), width) // a server's odd counts never break the bar
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "] " + line
}

// printSweep prints what a run did.
func (e *env) printSweep(run *client.SweepRun) {
	w := e.Stdout
	if run.Run != "" {
		fmt.Fprintf(w, "Sweep run %s: %s", run.Run, run.State)
		if run.Shards != nil {
			fmt.Fprintf(w, ", %d connectors in %d shards (%d done, %d failed, %d running)",
				run.Connectors, run.Shards.Planned, run.Shards.Done, run.Shards.Failed, run.Shards.Running)
		}
		fmt.Fprintln(w, ".")
	}
	fmt.Fprintf(w, "checked %d: %d ok, %d failed; %d skipped, %d inconclusive; %d keys rotated, %d keys deleted, %d secret versions and %d orphan secrets removed\n",
		run.Checked, run.OK, run.Failed, run.Skipped, run.Inconclusive, run.KeysRotated, run.KeysDeleted, run.VersionsRemoved, run.OrphansRemoved)
	if run.RotationsDeferred > 0 {
		fmt.Fprintf(w, "%d overdue key rotations left to the next run (at most GCPCONN_SWEEP_MAX_ROTATIONS a shard)\n", run.RotationsDeferred)
	}
	if run.PlanError != "" {
		fmt.Fprintf(w, "planning stopped early: %s\n", run.PlanError)
	}
	for _, f := range run.FailedShards {
		fmt.Fprintf(w, "shard %d failed after %d attempts: %s\n", f.Index, f.Attempts, f.Error)
	}
	if run.UncheckedCount > 0 {
		fmt.Fprintf(w, "%d connector(s) could not be checked:\n", run.UncheckedCount)
		for _, u := range run.Unchecked {
			fmt.Fprintf(w, "  %s %s: %s\n", u.ID, u.Name, u.Reason)
		}
	}
	for _, k := range run.OldKeys {
		fmt.Fprintf(w, "old key: %s\n", k)
	}
}

// sleep waits d, or until ctx is done (e.Sleep when set: tests).
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
