package rotation

import (
	"strings"
	"testing"
	"time"
)

// TestParsePeriod: rotation_period is days ("30d") or a Go duration, bounded to 1 to 365
// days; "" is off; FormatPeriod writes what ParsePeriod reads, in days when it is whole days.
func TestParsePeriod(t *testing.T) {
	if got := FormatPeriod(30 * 24 * time.Hour); got != "30d" {
		t.Errorf("FormatPeriod(30 days) = %q; want 30d", got)
	}
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30d", 30 * 24 * time.Hour, ""},
		{"720h", 720 * time.Hour, ""},
		{"", 0, ""},
		{"12h", 0, "out of range"},
		{"366d", 0, "out of range"},
		{"0d", 0, "zero"},
		{"monthly", 0, "not a duration"},
		{"-1d", 0, "not a number"},
	} {
		got, err := ParsePeriod(tc.in)
		if tc.wantErr == "" && (err != nil || got != tc.want) || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v, error containing %q", tc.in, got, err, tc.want, tc.wantErr)
		}
		if tc.wantErr == "" && tc.in != "" {
			if back, err := ParsePeriod(FormatPeriod(got)); err != nil || back != got {
				t.Errorf("ParsePeriod(FormatPeriod(%v)) = %v, %v; want it back", got, back, err)
			}
		}
	}
}

// TestPendingState: an entry is "verifying" once its version is stored with a deadline to
// verify it by, and "creating" before.
func TestPendingState(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		p    Pending
		want string
	}{
		{Pending{}, creating},
		{Pending{KeyID: "k"}, creating},
		{Pending{KeyID: "k", Version: "2"}, creating},
		{Pending{KeyID: "k", Version: "2", VerifyBy: now}, Verifying},
	} {
		if got := tc.p.State(); got != tc.want {
			t.Errorf("%+v.State() = %q; want %q", tc.p, got, tc.want)
		}
	}
}

// TestLeftover: a released entry leaves what it created as a retired key due now; a create
// whose answer never arrived (lost) is searched for in a window dated by the IAM call, once no
// late create can land; an entry that created nothing leaves nothing.
func TestLeftover(t *testing.T) {
	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	now := start.Add(time.Minute)
	p := Pending{StartedAt: start, KnownKeys: []string{"a"}, Email: "sa@p.iam.gserviceaccount.com"}
	if _, ok := p.Leftover(false, now); ok {
		t.Error("Leftover of an entry that created nothing = true; want false")
	}
	lost, ok := p.Leftover(true, now)
	wantTo := start.Add(CreateKeyBudget + lateCreate)
	if !ok || lost.Lost == nil || !lost.Lost.From.Equal(start.Add(-keyClockSkew)) || !lost.Lost.To.Equal(wantTo.Add(keyClockSkew)) ||
		!lost.DeleteAfter.Equal(wantTo) || !lost.Managed || lost.Email != p.Email {
		t.Errorf("Leftover(lost) = %+v, %v; want a lost key searched for from %v to %v, due at %v", lost, ok, start.Add(-keyClockSkew), wantTo.Add(keyClockSkew), wantTo)
	}
	lost.Lost.KnownKeys[0] = "changed"
	if p.KnownKeys[0] != "a" {
		t.Error("Leftover shares KnownKeys with the entry")
	}
	p.KeyID, p.Version = "k", "3"
	if rk, ok := p.Leftover(true, now); !ok || rk.Lost != nil || rk.KeyID != "k" || rk.Version != "3" || !rk.DeleteAfter.Equal(now) {
		t.Errorf("Leftover(created key) = %+v, %v; want key k of version 3 due now", rk, ok)
	}
}

// TestDue: the next rotation is one period after the pinned key was created; none when off.
func TestDue(t *testing.T) {
	created := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	if got := (State{Period: 24 * time.Hour, KeyCreatedAt: created}).Due(); !got.Equal(created.Add(24 * time.Hour)) {
		t.Errorf("Due = %v; want a day after the key", got)
	}
	if got := (State{KeyCreatedAt: created}).Due(); !got.IsZero() {
		t.Errorf("Due with rotation off = %v; want zero", got)
	}
}
