package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

// Defaults of gcpconn status.
const (
	defaultDueWithin  = 7 * 24 * time.Hour
	defaultOldestKeys = 5
)

// fleetStatus is what gcpconn status reports, and its -o json form. It is computed from the
// connectors the caller may see (every one, for an admin).
type fleetStatus struct {
	Connectors   int            `json:"connectors"`
	States       map[string]int `json:"states"`       // ok, partial, error, disabled, unchecked
	Inconclusive int            `json:"inconclusive"` // whose last check could not be made
	Failing      []failingConn  `json:"failing"`
	Rotations    []rotationDue  `json:"rotations"`
	OldestKeys   []keyAge       `json:"oldest_keys"`
	// LastSweep is the latest sweep run (GET /sweep), for admins; LastSweepNote says why it
	// is missing otherwise (not an admin, no run yet, a deployment without sweep runs).
	LastSweep     *client.SweepRun `json:"last_sweep,omitempty"`
	LastSweepNote string           `json:"last_sweep_note,omitempty"`
}

// failingConn is a connector whose last check failed or could not be made, and why.
type failingConn struct {
	Name                 string     `json:"name"`
	ID                   string     `json:"id"`
	State                string     `json:"state"`
	Reason               string     `json:"reason,omitempty"`
	FailingResourceTypes []string   `json:"failing_resource_types,omitempty"`
	Inconclusive         string     `json:"inconclusive,omitempty"`
	CheckedAt            *time.Time `json:"checked_at,omitempty"`
}

// rotationDue is a key rotation that failed, is overdue, or is due soon.
type rotationDue struct {
	Name           string     `json:"name"`
	ID             string     `json:"id"`
	State          string     `json:"state"` // failed, overdue or due
	NextRotationAt *time.Time `json:"next_rotation_at,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
}

// keyAge is the age of a connector's pinned service-account key (known for connectors that
// rotate their key).
type keyAge struct {
	Name         string    `json:"name"`
	ID           string    `json:"id"`
	KeyID        string    `json:"key_id"`
	KeyCreatedAt time.Time `json:"key_created_at"`
	AgeDays      int       `json:"age_days"`
}

func statusCommand() *command {
	return &command{
		Name:    "status",
		Summary: "Show the health of the connectors you may see, at a glance",
		Help: `
Counts the connectors by the state of their last check (ok, partial, error, disabled,
unchecked; inconclusive when the last check could not be made), lists the failing ones with
why, key rotations that failed, are overdue or are due soon, and the oldest service-account
keys gcpconn tracks (connectors with key rotation). An admin sees the whole deployment.
For an admin it also shows the latest sweep run (its state, shards and counts, as gcpconn
sweep --run latest does); other callers see why it is not shown.

Examples:
  gcpconn status
  gcpconn status --due-within 30d
  gcpconn status -o json`,
		Flags: []flagSpec{
			{Name: "due-within", Value: "DAYS", Help: "list rotations due within this many days, e.g. 30d (default 7d)"},
		},
		Run: runStatus,
	}
}

func runStatus(ctx context.Context, e *env, p *parsed) error {
	within := defaultDueWithin
	if s := p.str("due-within"); s != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 || n > 3650 {
			return usageErrorf("--due-within %q: want a number of days from 0 to 3650, such as 7d", s)
		}
		within = time.Duration(n) * 24 * time.Hour
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	cs, err := c.ListAll(ctx, client.Filter{})
	if err != nil {
		return err
	}
	st := summarize(cs, e.Now(), within)
	st.LastSweep, st.LastSweepNote = lastSweep(ctx, c)
	if e.json() {
		return e.printJSON(st)
	}
	printStatus(e, st)
	return nil
}

// summarize computes the fleet's status at now from its connectors.
func summarize(cs []client.Connector, now time.Time, dueWithin time.Duration) fleetStatus {
	st := fleetStatus{Connectors: len(cs), States: map[string]int{"ok": 0, "partial": 0, "error": 0, "disabled": 0, "unchecked": 0},
		Failing: []failingConn{}, Rotations: []rotationDue{}, OldestKeys: []keyAge{}}
	for _, c := range cs {
		state := c.Status.State
		if state == "" {
			state = "unchecked"
		}
		st.States[state]++
		if c.Status.Inconclusive != "" {
			st.Inconclusive++
		}
		if (state != "ok" && state != "unchecked") || c.Status.Inconclusive != "" {
			st.Failing = append(st.Failing, failingConn{Name: c.Name, ID: c.ID, State: state, Reason: c.Status.Error,
				FailingResourceTypes: c.Status.FailingResourceTypes, Inconclusive: c.Status.Inconclusive, CheckedAt: c.Status.CheckedAt})
		}
		if r := rotationOf(c, now, dueWithin); r != nil {
			st.Rotations = append(st.Rotations, *r)
		}
		if c.Rotation != nil && c.Rotation.KeyCreatedAt != nil && c.Rotation.KeyID != "" {
			st.OldestKeys = append(st.OldestKeys, keyAge{Name: c.Name, ID: c.ID, KeyID: c.Rotation.KeyID,
				KeyCreatedAt: c.Rotation.KeyCreatedAt.UTC(), AgeDays: int(now.Sub(*c.Rotation.KeyCreatedAt) / (24 * time.Hour))})
		}
	}
	sort.SliceStable(st.Failing, func(i, j int) bool { return st.Failing[i].Name < st.Failing[j].Name })
	sort.SliceStable(st.Rotations, func(i, j int) bool { return st.Rotations[i].Name < st.Rotations[j].Name })
	sort.SliceStable(st.OldestKeys, func(i, j int) bool {
		a, b := st.OldestKeys[i], st.OldestKeys[j]
		return a.KeyCreatedAt.Before(b.KeyCreatedAt) || (a.KeyCreatedAt.Equal(b.KeyCreatedAt) && a.Name < b.Name)
	})
	if len(st.OldestKeys) > defaultOldestKeys {
		st.OldestKeys = st.OldestKeys[:defaultOldestKeys]
	}
	return st
}

// rotationOf says whether c's key rotation failed, is overdue or is due within dueWithin of
// now; nil when none of these.
func rotationOf(c client.Connector, now time.Time, dueWithin time.Duration) *rotationDue {
	r := c.Rotation
	if r == nil {
		return nil
	}
	out := &rotationDue{Name: c.Name, ID: c.ID, NextRotationAt: r.NextRotationAt, LastError: r.LastError}
	switch {
	case r.LastError != "":
		out.State = "failed"
	case r.NextRotationAt != nil && now.After(*r.NextRotationAt):
		out.State = "overdue"
	case c.Status.RotationDue || (r.NextRotationAt != nil && r.NextRotationAt.Sub(now) <= dueWithin):
		out.State = "due"
	default:
		return nil
	}
	return out
}

func printStatus(e *env, st fleetStatus) {
	w := e.Stdout
	fmt.Fprintf(w, "CONNECTORS  %d: %d ok, %d partial, %d error, %d disabled, %d unchecked; %d inconclusive\n",
		st.Connectors, st.States["ok"], st.States["partial"], st.States["error"], st.States["disabled"], st.States["unchecked"], st.Inconclusive)
	fmt.Fprintln(w, "LAST SWEEP  "+sweepLine(st.LastSweep, st.LastSweepNote))
	if len(st.Failing) > 0 {
		fmt.Fprintln(w, "\nFailing:")
		tb := &table{Headers: []string{"NAME", "STATE", "CHECKED", "WHY"}, Ruled: true}
		for _, f := range st.Failing {
			why := f.Reason
			if len(f.FailingResourceTypes) > 0 {
				why = strings.TrimSpace(strings.Join(f.FailingResourceTypes, ", ") + " failed\n" + why)
			}
			if f.Inconclusive != "" {
				why = strings.TrimSpace(why + "\nlast check inconclusive: " + f.Inconclusive)
			}
			tb.Rows = append(tb.Rows, []string{f.Name, f.State, timeCell(f.CheckedAt), why})
		}
		tb.render(w)
	}
	if len(st.Rotations) > 0 {
		fmt.Fprintln(w, "\nKey rotations:")
		tb := &table{Headers: []string{"NAME", "ROTATION", "NEXT ROTATION", "LAST ERROR"}, Ruled: true}
		for _, r := range st.Rotations {
			tb.Rows = append(tb.Rows, []string{r.Name, r.State, timeCell(r.NextRotationAt), r.LastError})
		}
		tb.render(w)
	}
	if len(st.OldestKeys) > 0 {
		fmt.Fprintln(w, "\nOldest keys:")
		tb := &table{Headers: []string{"NAME", "KEY ID", "CREATED", "AGE"}, Ruled: true}
		for _, k := range st.OldestKeys {
			created := k.KeyCreatedAt
			tb.Rows = append(tb.Rows, []string{k.Name, k.KeyID, timeCell(&created), fmt.Sprintf("%dd", k.AgeDays)})
		}
		tb.render(w)
	}
}

func timeCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.DateTime)
}

// lastSweep reads the latest sweep run, or says why there is none to show.
func lastSweep(ctx context.Context, c *client.Client) (*client.SweepRun, string) {
	run, err := c.SweepRun(ctx, "")
	var ce *client.Error
	switch {
	case err == nil:
		return run, ""
	case errors.As(err, &ce) && (ce.Code == "permission_denied" || ce.Status == 403):
		return nil, "shown to admins only"
	case errors.As(err, &ce) && ce.Code == "not_found":
		return nil, "no sweep has run yet"
	case errors.As(err, &ce) && ce.Code == "failed_precondition":
		return nil, "this deployment keeps no sweep runs"
	}
	return nil, "could not be read: " + err.Error()
}

// sweepLine is the LAST SWEEP row: the run's id, state, shards and counts, or the note.
func sweepLine(run *client.SweepRun, note string) string {
	if run == nil {
		return note
	}
	line := fmt.Sprintf("%s %s", run.Run, run.State)
	if run.StartedAt != nil {
		line += ", started " + run.StartedAt.UTC().Format(time.RFC3339)
	}
	if sh := run.Shards; sh != nil {
		line += fmt.Sprintf(", shards %d/%d done, %d failed", sh.Done, sh.Planned, sh.Failed)
	}
	line += fmt.Sprintf("; checked %d: %d ok, %d failed, %d inconclusive", run.Checked, run.OK, run.Failed, run.Inconclusive)
	if run.PlanError != "" {
		line += "; planning stopped: " + run.PlanError
	}
	return line
}
