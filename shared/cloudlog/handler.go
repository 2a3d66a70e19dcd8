package cloudlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/jsonenc"
)

// Handler is a slog.Handler writing Cloud Logging JSON: one object per line, written with one
// Write call, so that lines of concurrent requests never interleave. It is safe for
// concurrent use.
//
// It writes what slog.JSONHandler writes (the same values in the same order; strings escaped
// as encoding/json escapes them) with Cloud Logging's field names and the redaction of the
// package doc, in one pass into a pooled buffer: the record is not copied, and the trace
// fields of the context are written at the top level of the entry, after the attributes.
type Handler struct {
	out     *output // shared by the handlers WithAttrs and WithGroup derive
	level   slog.Leveler
	project string   // JSON-escaped; "" writes bare trace ids
	pre     []byte   // the attributes of WithAttrs, encoded, each after a ','
	groups  []string // the groups of WithGroup, outermost first
	nOpen   int      // how many of groups pre has opened
}

// output is where a Handler's lines go, one Write at a time.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewHandler returns a Handler writing one JSON entry per line to w.
func NewHandler(w io.Writer, o *Options) *Handler {
	if o == nil {
		o = &Options{}
	}
	var level slog.Leveler = slog.LevelInfo
	if o.Level != nil {
		level = o.Level
	}
	return &Handler{out: &output{w: w}, level: level, project: string(jsonenc.StringContent(nil, o.ProjectID, false))}
}

// New returns a logger over NewHandler(w, o).
func New(w io.Writer, o *Options) *slog.Logger { return slog.New(NewHandler(w, o)) }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// maxPooledBuffer bounds the buffers kept for reuse, so that one huge entry does not stay
// in memory.
const maxPooledBuffer = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle implements slog.Handler: it writes r as one line, with the trace of ctx, if any.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	return h.write(ctx, r.Time, r.Level, r.Message, entryAttrs{r: &r})
}

// LogAttrs logs an entry through log as log.LogAttrs does. When log writes through a
// Handler of this package, the entry goes straight to it: without the caller's program
// counter (which this package does not write) and without the record's copy of attrs, the
// two costs slog.Logger adds to an entry. It is for the lines written on every request.
func LogAttrs(ctx context.Context, log *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	h, ok := log.Handler().(*Handler)
	if !ok {
		log.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	if h.Enabled(ctx, level) {
		_ = h.write(ctx, time.Now(), level, msg, entryAttrs{attrs: attrs})
	}
}

// Fields are the attribute keys of an entry written on every request (the mint audit
// line), encoded once: escaped, and with their redaction (SensitiveKey) decided, so that
// LogFields writes only the values.
type Fields struct {
	names   []string
	encoded []string // `"name":`
	hidden  []bool
}

// NewFields returns the Fields of keys, in order.
func NewFields(keys ...string) *Fields {
	f := &Fields{names: keys, encoded: make([]string, len(keys)), hidden: make([]bool, len(keys))}
	for i, k := range keys {
		f.encoded[i] = string(jsonenc.Key(nil, k, false))
		f.hidden[i] = SensitiveKey(k)
	}
	return f
}

// LogFields logs an entry whose attributes are f's keys with values, in order (values
// beyond f's keys are ignored, missing ones left out), as LogAttrs would log them.
func LogFields(ctx context.Context, log *slog.Logger, level slog.Level, msg string, f *Fields, values ...slog.Value) {
	values = values[:min(len(values), len(f.names))]
	h, ok := log.Handler().(*Handler)
	if !ok {
		attrs := make([]slog.Attr, len(values))
		for i, v := range values {
			attrs[i] = slog.Attr{Key: f.names[i], Value: v}
		}
		log.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	if h.Enabled(ctx, level) {
		_ = h.write(ctx, time.Now(), level, msg, entryAttrs{fields: f, values: values})
	}
}

// entryAttrs are the attributes of one entry: a record's, a slice of them, or Fields with
// their values.
type entryAttrs struct {
	r      *slog.Record
	attrs  []slog.Attr
	fields *Fields
	values []slog.Value
}

func (a *entryAttrs) any() bool {
	return len(a.attrs) > 0 || len(a.values) > 0 || (a.r != nil && a.r.NumAttrs() > 0)
}

// encode appends the attributes and reports whether it appended any.
func (a *entryAttrs) encode(e *encoder) bool {
	wrote := false
	if a.r != nil {
		a.r.Attrs(func(at slog.Attr) bool {
			wrote = e.attr(at) || wrote
			return true
		})
	}
	for _, at := range a.attrs {
		wrote = e.attr(at) || wrote
	}
	for i, v := range a.values {
		wrote = e.field(a.fields, i, v) || wrote
	}
	return wrote
}

// write writes one entry.
func (h *Handler) write(ctx context.Context, t time.Time, level slog.Level, msg string, attrs entryAttrs) error {
	bp := bufPool.Get().(*[]byte)
	e := encoder{b: (*bp)[:0]}
	e.b = append(e.b, '{')
	if !t.IsZero() {
		e.b = append(e.b, `"timestamp":`...)
		e.time(t.Round(0))
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, `"severity":"`...)
	e.b = append(e.b, Severity(level)...)
	e.b = append(e.b, `","message":`...)
	e.b = jsonenc.String(e.b, msg, false)
	e.b = append(e.b, h.pre...)
	e.sep = true
	open := h.nOpen
	if attrs.any() {
		pos := len(e.b)
		for _, g := range h.groups[h.nOpen:] {
			e.openGroup(g)
		}
		if attrs.encode(&e) {
			open = len(h.groups)
		} else {
			e.b = e.b[:pos]
		}
	}
	for range open {
		e.b = append(e.b, '}')
	}
	e.b = h.appendTrace(ctx, e.b)
	e.b = append(e.b, '}', '\n')
	h.out.mu.Lock()
	_, err := h.out.w.Write(e.b)
	h.out.mu.Unlock()
	if cap(e.b) <= maxPooledBuffer {
		*bp = e.b
		bufPool.Put(bp)
	}
	return err
}

// appendTrace appends the Cloud Logging trace fields of the trace ctx carries, if any.
func (h *Handler) appendTrace(ctx context.Context, b []byte) []byte {
	t, ok := ctx.Value(traceKey{}).(Trace)
	if !ok || t.ID == "" {
		return b
	}
	b = append(b, `,"`+TraceKey+`":"`...)
	if h.project != "" {
		b = append(b, "projects/"...)
		b = append(b, h.project...)
		b = append(b, "/traces/"...)
	}
	b = jsonenc.StringContent(b, t.ID, false)
	b = append(b, '"')
	if t.SpanID != "" {
		b = append(b, `,"`+SpanKey+`":`...)
		b = jsonenc.String(b, t.SpanID, false)
	}
	b = append(b, `,"`+TraceSampledKey+`":`...)
	return strconv.AppendBool(b, t.Sampled)
}

// WithAttrs implements slog.Handler: the attributes are encoded once, here.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	e := encoder{b: slices.Clone(h.pre), sep: true}
	for _, g := range h.groups[h.nOpen:] {
		e.openGroup(g)
	}
	wrote := false
	for _, a := range as {
		wrote = e.attr(a) || wrote
	}
	if !wrote {
		return h
	}
	h2 := *h
	h2.pre, h2.nOpen = slices.Clip(e.b), len(h.groups)
	return &h2
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), name)
	return &h2
}

// encoder appends the members of a JSON object.
type encoder struct {
	b   []byte
	sep bool // a member precedes: the next one needs a ','
}

func (e *encoder) key(k string) {
	if e.sep {
		e.b = append(e.b, ',')
	}
	e.b = jsonenc.Key(e.b, k, false)
	e.sep = true
}

func (e *encoder) openGroup(name string) {
	e.key(name)
	e.b = append(e.b, '{')
	e.sep = false
}

// attr appends a as slog.JSONHandler would, with secrets hidden (SensitiveKey), and reports
// whether it appended anything (empty attributes and empty groups are left out).
func (e *encoder) attr(a slog.Attr) bool {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup {
		if a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil {
			return false
		}
		e.key(a.Key)
		if SensitiveKey(a.Key) {
			e.b = jsonenc.String(e.b, Hidden, false)
		} else {
			e.value(a.Value)
		}
		return true
	}
	attrs := a.Value.Group()
	if len(attrs) == 0 {
		return false
	}
	pos, sep := len(e.b), e.sep
	if a.Key != "" {
		e.openGroup(a.Key)
	}
	wrote := false
	for _, m := range attrs {
		wrote = e.attr(m) || wrote
	}
	if !wrote {
		e.b, e.sep = e.b[:pos], sep
		return false
	}
	if a.Key != "" {
		e.b = append(e.b, '}')
		e.sep = true
	}
	return true
}

// field appends the i-th of f's keys with value v, as attr would.
func (e *encoder) field(f *Fields, i int, v slog.Value) bool {
	v = v.Resolve()
	if v.Kind() == slog.KindGroup {
		return e.attr(slog.Attr{Key: f.names[i], Value: v})
	}
	if e.sep {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, f.encoded[i]...)
	e.sep = true
	if f.hidden[i] {
		e.b = jsonenc.String(e.b, Hidden, false)
	} else {
		e.value(v)
	}
	return true
}

// value appends v as slog.JSONHandler does.
func (e *encoder) value(v slog.Value) {
	switch v.Kind() {
	case slog.KindString:
		e.b = jsonenc.String(e.b, v.String(), false)
	case slog.KindInt64:
		e.b = strconv.AppendInt(e.b, v.Int64(), 10)
	case slog.KindUint64:
		e.b = strconv.AppendUint(e.b, v.Uint64(), 10)
	case slog.KindBool:
		e.b = strconv.AppendBool(e.b, v.Bool())
	case slog.KindDuration:
		e.b = strconv.AppendInt(e.b, int64(v.Duration()), 10)
	case slog.KindTime:
		e.time(v.Time())
	case slog.KindFloat64:
		e.marshal(v.Float64())
	default:
		a := v.Any()
		if err, ok := a.(error); ok {
			if _, jm := a.(json.Marshaler); !jm {
				e.b = jsonenc.String(e.b, err.Error(), false)
				return
			}
		}
		e.marshal(a)
	}
}

func (e *encoder) time(t time.Time) {
	b, ok := jsonenc.Time(e.b, t)
	if !ok {
		b = jsonenc.String(e.b, "!ERROR:time.Time year outside of range [0,9999]", false)
	}
	e.b = b
}

// marshal appends v as encoding/json writes it without HTML escaping, or the error.
func (e *encoder) marshal(v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		e.b = jsonenc.String(e.b, fmt.Sprintf("!ERROR:%v", err), false)
		return
	}
	e.b = append(e.b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
