// Package cloudlog writes slog records as the JSON lines Cloud Logging understands, and keeps
// secrets out of them.
//
// # Vocabulary
//
// A log entry is one JSON object per line on stdout. Cloud Logging reads its own field names:
// "severity" (DEBUG, INFO, WARNING, ERROR), "message", "timestamp", and
// "logging.googleapis.com/trace" (projects/PROJECT/traces/TRACE_ID), which groups every entry of
// one request under its trace in the console. [NewHandler] renames slog's fields accordingly.
//
// A trace is carried on the request's context: [WithTrace] puts it there, usually from the
// incoming headers by [TraceFromHeaders] ("traceparent", else "X-Cloud-Trace-Context"), and the
// handler adds it to every entry logged with that context ([slog.Logger.InfoContext] and friends).
//
// Redaction: any attribute whose key names a secret (token, secret, key, password, private,
// refresh, credential; see [SensitiveKey]) is written as "[HIDDEN]", at any depth of groups.
// Types that know they are secret (connector.Secrets, connector.Token) already log as
// "[HIDDEN]" through slog.LogValuer. A token is identified in audit entries by its
// [Fingerprint], never by its value.
//
// Cost: the handler encodes each entry in one pass into a pooled buffer; lines written on
// every request skip slog.Logger's record with [LogAttrs], or also the keys' encoding with
// [Fields] and [LogFields]; a [LineWriter] hands the lines to stdout in batches (one write
// for the lines of a millisecond), whole, and flushes on demand before the process exits.
package cloudlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Hidden is what a redacted value is replaced with.
const Hidden = "[HIDDEN]"

// Cloud Logging's special field names.
const (
	TraceKey        = "logging.googleapis.com/trace"
	SpanKey         = "logging.googleapis.com/spanId"
	TraceSampledKey = "logging.googleapis.com/trace_sampled"
)

// LevelNotice and LevelCritical complete slog's levels with Cloud Logging's severities.
const (
	LevelNotice   = slog.Level(2)
	LevelCritical = slog.Level(12)
)

// Options configure a Handler. The zero value logs INFO and above with traces that are not
// qualified by a project.
type Options struct {
	// ProjectID qualifies trace ids as projects/ProjectID/traces/ID, as Cloud Logging wants;
	// "" writes the bare trace id.
	ProjectID string
	// Level is the minimum level logged; nil means slog.LevelInfo.
	Level slog.Leveler
}

// Severity returns Cloud Logging's severity name for a slog level.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < LevelNotice:
		return "INFO"
	case l < slog.LevelWarn:
		return "NOTICE"
	case l < slog.LevelError:
		return "WARNING"
	case l < LevelCritical:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

var (
	sensitiveWord = regexp.MustCompile(`(?i)token|secret|key|passw|private|refresh|credential|authorization|cookie`)
	// safeSuffix marks keys that describe a secret without holding it: a fingerprint, a
	// version name, a type, an id, a count or a list of field names.
	safeSuffix = regexp.MustCompile(`(?i)(fingerprint|_version|_type|_id|_count|_fields|_names?|_at|_seconds)$`)
)

// SensitiveKey reports whether an attribute key names a value that must not be logged: it
// contains token, secret, key, password, private, refresh, credential, authorization or
// cookie, unless it ends in a suffix that describes such a value without holding it
// (fingerprint, _version, _type, _id, _count, _fields, _name(s), _at, _seconds). So
// "access_token" and "privateKey" are hidden, "token_fingerprint" and "secret_version" are not.
func SensitiveKey(key string) bool {
	if v, ok := sensitiveMemo.Load(key); ok {
		return v.(bool)
	}
	v := sensitiveWord.MatchString(key) && !safeSuffix.MatchString(key)
	if sensitiveMemoSize.Add(1) <= maxSensitiveMemo {
		sensitiveMemo.Store(key, v)
	}
	return v
}

// Attribute keys are few and stable, so SensitiveKey remembers its answers (up to
// maxSensitiveMemo keys) instead of running two regular expressions per attribute.
var (
	sensitiveMemo     sync.Map // key -> bool
	sensitiveMemoSize atomic.Int64
)

const maxSensitiveMemo = 4096

// Fingerprint identifies a token in audit logs without revealing it: "sha256:" and the first
// 16 hex digits of its SHA-256. An empty token has the fingerprint "".
//
// A warm mint logs the fingerprint of the same cached token again and again, so the last
// fingerprints are remembered (fingerprintSlots, direct-mapped by a hash of the token) rather
// than hashed with SHA-256 and hex-encoded on every call.
func Fingerprint(token string) string {
	if token == "" {
		return ""
	}
	slot := &fingerprints[maphash.String(fingerprintSeed, token)%fingerprintSlots]
	if m := slot.Load(); m != nil && m.token == token {
		return m.fingerprint
	}
	sum := sha256.Sum256([]byte(token))
	fp := "sha256:" + hex.EncodeToString(sum[:8])
	slot.Store(&fingerprintMemo{token: token, fingerprint: fp})
	return fp
}

// fingerprintSlots is how many tokens' fingerprints Fingerprint remembers at most.
const fingerprintSlots = 256

type fingerprintMemo struct{ token, fingerprint string }

var (
	fingerprints    [fingerprintSlots]atomic.Pointer[fingerprintMemo]
	fingerprintSeed = maphash.MakeSeed()
)

// Trace identifies the distributed trace a request belongs to.
type Trace struct {
	ID      string // 32 hex digits
	SpanID  string // as received: hex for traceparent, decimal for X-Cloud-Trace-Context
	Sampled bool
}

type traceKey struct{}

// WithTrace returns ctx carrying t, which the Handler adds to entries logged with it.
func WithTrace(ctx context.Context, t Trace) context.Context {
	if t.ID == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace carried by ctx, if any.
func TraceFrom(ctx context.Context) (Trace, bool) {
	t, ok := ctx.Value(traceKey{}).(Trace)
	return t, ok
}

var (
	traceparentRE = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)
	cloudTraceRE  = regexp.MustCompile(`^([0-9a-fA-F]{1,32})(?:/([0-9]+))?(?:;o=([01]))?$`)
)

// TraceFromHeaders reads the W3C "traceparent" header, or else Google's
// "X-Cloud-Trace-Context: TRACE/SPAN;o=1". Malformed or all-zero values yield ok=false.
func TraceFromHeaders(h http.Header) (Trace, bool) {
	if m := traceparentRE.FindStringSubmatch(strings.TrimSpace(h.Get("traceparent"))); m != nil {
		if strings.Trim(m[1], "0") != "" {
			flags, _ := hex.DecodeString(m[3])
			return Trace{ID: m[1], SpanID: m[2], Sampled: len(flags) == 1 && flags[0]&1 == 1}, true
		}
	}
	if m := cloudTraceRE.FindStringSubmatch(strings.TrimSpace(h.Get("X-Cloud-Trace-Context"))); m != nil {
		if strings.Trim(m[1], "0") != "" {
			span := m[2]
			if span == "0" {
				span = ""
			}
			return Trace{ID: strings.ToLower(m[1]), SpanID: span, Sampled: m[3] == "1"}, true
		}
	}
	return Trace{}, false
}

// Middleware puts the trace of each request's headers on its context.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := TraceFromHeaders(r.Header); ok {
			r = r.WithContext(WithTrace(r.Context(), t))
		}
		next.ServeHTTP(w, r)
	})
}
