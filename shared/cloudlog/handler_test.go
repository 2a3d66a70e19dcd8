package cloudlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// referenceHandler is how Handler used to be written: slog.JSONHandler with Cloud Logging's
// names and the redaction put in by ReplaceAttr, and the trace fields added to a copy of the
// record. TestHandlerMatchesJSONHandler holds Handler to its output.
type referenceHandler struct {
	inner   slog.Handler
	project string
}

func newReference(w io.Writer, o *Options) *referenceHandler {
	return &referenceHandler{inner: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.Level, ReplaceAttr: referenceReplace}), project: o.ProjectID}
}

func (h *referenceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *referenceHandler) Handle(ctx context.Context, r slog.Record) error {
	if t, ok := TraceFrom(ctx); ok && t.ID != "" {
		id := t.ID
		if h.project != "" {
			id = "projects/" + h.project + "/traces/" + t.ID
		}
		r = r.Clone()
		r.AddAttrs(slog.String(TraceKey, id))
		if t.SpanID != "" {
			r.AddAttrs(slog.String(SpanKey, t.SpanID))
		}
		r.AddAttrs(slog.Bool(TraceSampledKey, t.Sampled))
	}
	return h.inner.Handle(ctx, r)
}

func (h *referenceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &referenceHandler{inner: h.inner.WithAttrs(as), project: h.project}
}

func (h *referenceHandler) WithGroup(name string) slog.Handler {
	return &referenceHandler{inner: h.inner.WithGroup(name), project: h.project}
}

func referenceReplace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.LevelKey:
			l, _ := a.Value.Any().(slog.Level)
			return slog.String("severity", Severity(l))
		case slog.MessageKey:
			a.Key = "message"
			return a
		case slog.TimeKey:
			a.Key = "timestamp"
			return a
		}
	}
	if SensitiveKey(a.Key) && a.Value.Kind() != slog.KindGroup {
		return slog.String(a.Key, Hidden)
	}
	return a
}

type marshals struct{ A string }

func (m marshals) MarshalJSON() ([]byte, error) { return []byte(`{"m":"` + m.A + `"}`), nil }

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot") }

// TestHandlerMatchesJSONHandler logs the same entries through Handler and through
// slog.JSONHandler configured as Handler used to be, and compares the decoded lines and their
// keys' order: every kind of value, groups (empty, inline, nested), WithAttrs and WithGroup,
// secrets at any depth, traces and levels.
func TestHandlerMatchesJSONHandler(t *testing.T) {
	when := time.Date(2026, 12, 6, 22, 30, 1, 120000000, time.UTC)
	ctx := WithTrace(context.Background(), Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true})
	attrs := []slog.Attr{
		slog.String("s", "a \"quoted\" <html> & \n line\xff \u2028"), slog.Int("i", -3), slog.Uint64("u", math.MaxUint64),
		slog.Float64("f", 1.5e300), slog.Float64("nan", math.NaN()), slog.Bool("b", true), slog.Duration("d", 1500*time.Millisecond),
		slog.Time("t", when),
		slog.Any("err", errors.New("boom <x>")), slog.Any("map", map[string]any{"k": []int{1, 2}, "h": "<&>"}),
		slog.Any("marshals", marshals{"x"}), slog.Any("fails", failing{}), slog.Any("nil", nil), {},
		slog.Any("logvaluer", secretish{"SECRET"}), slog.String("access_token", "SECRET"),
		slog.Group("g", slog.String("client_secret", "SECRET"), slog.Int("n", 1), slog.Group("inner", slog.String("x", "y"))),
		slog.Group("empty"), slog.Group("", slog.String("inlined", "v")), slog.Group("only_empty", slog.Group("e")),
		slog.String("", "empty key"), slog.String("token_fingerprint", "sha256:00"),
	}
	type logf func(log *slog.Logger)
	for name, f := range map[string]logf{
		"attrs":    func(l *slog.Logger) { l.LogAttrs(ctx, slog.LevelInfo, "m <1>", attrs...) },
		"no attrs": func(l *slog.Logger) { l.InfoContext(ctx, "bare") },
		"levels": func(l *slog.Logger) {
			l.Log(ctx, LevelNotice, "n")
			l.Warn("w")
			l.Error("e")
			l.Log(ctx, LevelCritical, "c")
			l.Debug("d")
		},
		"with":           func(l *slog.Logger) { l.With("refresh_token", "SECRET", "id", 7).InfoContext(ctx, "with", "x", 1) },
		"with nothing":   func(l *slog.Logger) { l.With(slog.Group("e")).Info("with nothing") },
		"group":          func(l *slog.Logger) { l.WithGroup("req").Info("group", "password", "SECRET", "n", 2) },
		"group no attrs": func(l *slog.Logger) { l.WithGroup("req").Info("group no attrs") },
		"group empty":    func(l *slog.Logger) { l.WithGroup("req").Info("group empty", slog.Group("e")) },
		"nested": func(l *slog.Logger) {
			l.With("a", 1).WithGroup("g1").With("b", 2).WithGroup("g2").WithGroup("g3").Info("nested", "c", 3)
		},
		"nested no attrs": func(l *slog.Logger) { l.With("a", 1).WithGroup("g1").With("b", 2).WithGroup("g2").Info("nested") },
	} {
		t.Run(name, func(t *testing.T) {
			for _, project := range []string{"", "demo"} {
				var got, want bytes.Buffer
				o := &Options{ProjectID: project, Level: slog.LevelInfo}
				f(slog.New(atTime{NewHandler(&got, o), when}))
				f(slog.New(atTime{newReference(&want, o), when}))
				compareLines(t, got.String(), want.String())
			}
		})
	}
}

// atTime sets the time of every record, so that two handlers' lines can be compared.
type atTime struct {
	slog.Handler
	when time.Time
}

func (h atTime) Handle(ctx context.Context, r slog.Record) error {
	r.Time = h.when
	return h.Handler.Handle(ctx, r)
}

func (h atTime) WithAttrs(as []slog.Attr) slog.Handler {
	return atTime{h.Handler.WithAttrs(as), h.when}
}

func (h atTime) WithGroup(name string) slog.Handler { return atTime{h.Handler.WithGroup(name), h.when} }

// compareLines compares two logs line by line: decoded values and the order of keys.
func compareLines(t *testing.T, got, want string) {
	t.Helper()
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(gl) != len(wl) {
		t.Fatalf("%d lines; want %d:\n%s\nwant:\n%s", len(gl), len(wl), got, want)
	}
	for i := range gl {
		if gl[i] == "" && wl[i] == "" {
			continue
		}
		var g, w any
		if err := json.Unmarshal([]byte(gl[i]), &g); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, gl[i])
		}
		if err := json.Unmarshal([]byte(wl[i]), &w); err != nil {
			t.Fatalf("reference line %d is not JSON: %v\n%s", i, err, wl[i])
		}
		if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(keyOrder(gl[i]), keyOrder(wl[i])) {
			t.Errorf("line %d:\n got %s\nwant %s", i, gl[i], wl[i])
		}
		if strings.Contains(gl[i], "SECRET") {
			t.Errorf("line %d shows a secret: %s", i, gl[i])
		}
	}
}

// keyOrder lists the object keys of a JSON line in the order they appear.
func keyOrder(line string) []string {
	type frame struct{ object, wantKey bool }
	dec := json.NewDecoder(strings.NewReader(line))
	var keys []string
	var stack []frame
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			afterValue()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			keys = append(keys, tok.(string))
			stack[n-1].wantKey = false
			continue
		}
		afterValue()
	}
}

func TestHandlerWritesEachLineOnce(t *testing.T) {
	var w countingWriter
	log := New(&w, nil)
	log.Info("one", "a", 1)
	log.With("b", 2).WithGroup("g").Info("two", "c", 3)
	if w.writes != 2 || strings.Count(w.buf.String(), "\n") != 2 {
		t.Errorf("%d writes, %d lines; want 2 writes of one line each:\n%s", w.writes, strings.Count(w.buf.String(), "\n"), w.buf.String())
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return w.buf.Write(p) }

// TestLogAttrsMatchesLogger compares LogAttrs, which writes to the Handler directly, with
// slog.Logger.LogAttrs through the same Handler (timestamps aside), and checks that it falls
// back to the logger for another handler.
func TestLogAttrsMatchesLogger(t *testing.T) {
	ctx := WithTrace(context.Background(), Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"})
	attrs := []slog.Attr{slog.String("audit", "mint"), slog.String("access_token", "SECRET"), slog.Int("n", 2), slog.Group("g", slog.Bool("b", true))}
	var direct, viaLogger bytes.Buffer
	o := &Options{ProjectID: "p"}
	LogAttrs(ctx, New(&direct, o).With("fn", "mint-token").WithGroup("req"), slog.LevelInfo, "mint", attrs...)
	New(&viaLogger, o).With("fn", "mint-token").WithGroup("req").LogAttrs(ctx, slog.LevelInfo, "mint", attrs...)
	LogAttrs(ctx, New(&direct, o), slog.LevelDebug, "below the level")
	compareLines(t, withoutTimestamp(t, direct.String()), withoutTimestamp(t, viaLogger.String()))

	var other bytes.Buffer
	LogAttrs(ctx, slog.New(slog.NewJSONHandler(&other, nil)), slog.LevelInfo, "other", attrs...)
	if !strings.Contains(other.String(), `"msg":"other"`) {
		t.Errorf("LogAttrs through another handler wrote %q", other.String())
	}
}

// withoutTimestamp removes the timestamp member of every line.
func withoutTimestamp(t *testing.T, lines string) string {
	t.Helper()
	var out strings.Builder
	for line := range strings.Lines(lines) {
		i := strings.Index(line, `"timestamp":"`)
		j := strings.Index(line, `","severity"`)
		if i < 0 || j < i {
			t.Fatalf("line without a timestamp: %s", line)
		}
		out.WriteString(line[:i] + line[j+2:])
	}
	return out.String()
}

// TestLogAttrsAllocations holds an audit-like entry (17 attributes, a trace) written by
// LogAttrs to no allocation: the buffer is pooled and nothing is copied on the way.
func TestLogAttrsAllocations(t *testing.T) {
	log := New(io.Discard, &Options{ProjectID: "demo"})
	ctx := WithTrace(context.Background(), Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"})
	when := time.Now()
	n := testing.AllocsPerRun(200, func() {
		LogAttrs(ctx, log, slog.LevelInfo, "mint",
			slog.String("audit", "mint"), slog.String("outcome", "granted"), slog.String("caller", "user:a@example.com"),
			slog.String("principal", "user:a@example.com"), slog.String("issuer", "google"), slog.String("connector", "demo"),
			slog.String("auth_method", "service-account"), slog.String("resource_type", "gcs-bucket"),
			slog.String("resource_id", "gs://b"), slog.String("project_id", "p"), slog.Int64("lifetime_requested_seconds", 3600),
			slog.Int64("lifetime_applied_seconds", 3600), slog.Bool("cache_hit", true), slog.Bool("downscoped", true),
			slog.String("token_fingerprint", "sha256:0011223344556677"), slog.Time("expires_at", when))
	})
	if n > 0 {
		t.Errorf("LogAttrs allocates %v times per audit entry; want 0", n)
	}
}

// TestLogFieldsMatchesLogAttrs: an entry written with pre-encoded Fields is the entry
// LogAttrs writes with the same keys and values (a secret key hidden, a key that needs
// escaping, a group value, a LogValuer), through a Handler and through another handler; it
// allocates nothing through a Handler.
func TestLogFieldsMatchesLogAttrs(t *testing.T) {
	ctx := WithTrace(context.Background(), Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736"})
	f := NewFields("audit", "access_token", `we"ird`, "g", "payload", "n")
	values := []slog.Value{slog.StringValue("mint"), slog.StringValue("SECRET"), slog.StringValue("x"),
		slog.GroupValue(slog.String("client_secret", "SECRET"), slog.Int("k", 1)), slog.AnyValue(secretish{"SECRET"}), slog.Int64Value(3)}
	attrs := make([]slog.Attr, len(values))
	for i, v := range values {
		attrs[i] = slog.Attr{Key: f.names[i], Value: v}
	}
	var fields, viaAttrs bytes.Buffer
	LogFields(ctx, New(&fields, nil).With("fn", "mint"), slog.LevelInfo, "m", f, values...)
	LogAttrs(ctx, New(&viaAttrs, nil).With("fn", "mint"), slog.LevelInfo, "m", attrs...)
	compareLines(t, withoutTimestamp(t, fields.String()), withoutTimestamp(t, viaAttrs.String()))

	var other bytes.Buffer
	LogFields(ctx, slog.New(slog.NewJSONHandler(&other, nil)), slog.LevelInfo, "other", f, values[:2]...)
	if !strings.Contains(other.String(), `"audit":"mint"`) || strings.Contains(other.String(), `"n":`) {
		t.Errorf("LogFields through another handler wrote %q", other.String())
	}

	log := New(io.Discard, nil)
	if n := testing.AllocsPerRun(100, func() { LogFields(ctx, log, slog.LevelInfo, "m", f, values...) }); n > 0 {
		t.Errorf("LogFields allocates %v times; want 0", n)
	}
}
