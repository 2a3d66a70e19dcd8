package inject

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	if got := Now(func() time.Time { return at }); !got.Equal(at) {
		t.Errorf("Now(clock) = %v; want the clock's %v", got, at)
	}
	if got := Now(nil); time.Since(got) > time.Hour || got.IsZero() {
		t.Errorf("Now(nil) = %v; want the wall clock", got)
	}
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	Log(l).Info("kept")
	Log(nil).Info("dropped")
	if got := buf.String(); !bytes.Contains(buf.Bytes(), []byte("kept")) || bytes.Contains(buf.Bytes(), []byte("dropped")) {
		t.Errorf("Log wrote %q; want the given logger used and the nil one discarding", got)
	}
	if first, second := Log(nil), Log(nil); first != second {
		t.Error("Log(nil) builds a logger per call; want one shared discarding logger")
	}
}
