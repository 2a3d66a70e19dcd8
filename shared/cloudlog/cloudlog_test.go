package cloudlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type secretish struct{ v string }

func (s secretish) LogValue() slog.Value { return slog.StringValue(Hidden) }

func decode(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestHandlerFields(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, &Options{ProjectID: "demo", Level: slog.LevelDebug})
	ctx := WithTrace(context.Background(), Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true})
	log.DebugContext(ctx, "d")
	log.Info("i")
	log.Log(ctx, LevelNotice, "n")
	log.Warn("w")
	log.Error("e")
	log.Log(ctx, LevelCritical, "c")
	got := decode(t, buf.Bytes())
	want := []struct{ sev, msg string }{{"DEBUG", "d"}, {"INFO", "i"}, {"NOTICE", "n"}, {"WARNING", "w"}, {"ERROR", "e"}, {"CRITICAL", "c"}}
	if len(got) != len(want) {
		t.Fatalf("got %d entries; want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i]["severity"] != w.sev || got[i]["message"] != w.msg {
			t.Errorf("entry %d = severity %v message %v; want %s %s", i, got[i]["severity"], got[i]["message"], w.sev, w.msg)
		}
		if _, ok := got[i]["timestamp"]; !ok {
			t.Errorf("entry %d has no timestamp: %v", i, got[i])
		}
		for _, k := range []string{"level", "msg", "time"} {
			if _, ok := got[i][k]; ok {
				t.Errorf("entry %d still has slog key %q", i, k)
			}
		}
	}
	if tr := got[0][TraceKey]; tr != "projects/demo/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace = %v; want projects/demo/traces/4bf92f3577b34da6a3ce929d0e0e4736", tr)
	}
	if got[0][SpanKey] != "00f067aa0ba902b7" || got[0][TraceSampledKey] != true {
		t.Errorf("span, sampled = %v, %v; want 00f067aa0ba902b7, true", got[0][SpanKey], got[0][TraceSampledKey])
	}
	if _, ok := got[1][TraceKey]; ok {
		t.Errorf("entry without trace context has a trace: %v", got[1])
	}
}

func TestRedaction(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, nil).With("refresh_token", "rt-SECRET1")
	log.WithGroup("req").Info("call",
		"access_token", "ya29.SECRET2",
		"privateKey", "SECRET3",
		"client_secret", "SECRET4",
		"password", "SECRET5",
		"service_account_credential", "SECRET6",
		"Authorization", "Bearer SECRET7",
		"payload", secretish{"SECRET8"},
		slog.Group("config", "api_key", "SECRET9", "project_id", "demo"),
		"token_fingerprint", Fingerprint("ya29.SECRET2"),
		"secret_version", "3",
		"connector_id", "c1",
	)
	out := buf.String()
	for _, s := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6", "SECRET7", "SECRET8", "SECRET9"} {
		if strings.Contains(out, s) {
			t.Errorf("log line contains %s: %s", s, out)
		}
	}
	for _, s := range []string{`"secret_version":"3"`, `"connector_id":"c1"`, `"project_id":"demo"`, `"token_fingerprint":"sha256:`} {
		if !strings.Contains(out, s) {
			t.Errorf("log line lacks %s: %s", s, out)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"token", true}, {"access_token", true}, {"refreshToken", true}, {"private_key", true},
		{"client_secret", true}, {"password", true}, {"credentials_json", true}, {"api_key", true},
		{"token_fingerprint", false}, {"secret_version", false}, {"token_type", false},
		{"private_key_id", false}, {"secret_fields", false}, {"connector", false}, {"email", false},
	} {
		if got := SensitiveKey(tc.key); got != tc.want {
			t.Errorf("SensitiveKey(%q) = %v; want %v", tc.key, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint("ya29.one"), Fingerprint("ya29.two")
	if a == b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+16 {
		t.Errorf("Fingerprint = %q, %q; want distinct sha256:<16 hex>", a, b)
	}
	if a != Fingerprint("ya29.one") {
		t.Errorf("Fingerprint is not stable")
	}
	if strings.Contains(a, "ya29") {
		t.Errorf("Fingerprint(%q) = %q reveals the token", "ya29.one", a)
	}
	if got := Fingerprint(""); got != "" {
		t.Errorf(`Fingerprint("") = %q; want ""`, got)
	}
}

func TestTraceFromHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   Trace
		ok     bool
	}{
		{"traceparent", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true}, true},
		{"traceparent unsampled", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
			Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}, true},
		{"cloud trace", map[string]string{"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"},
			Trace{ID: "105445aa7843bc8bf206b12000100000", SpanID: "1", Sampled: true}, true},
		{"traceparent wins", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1"},
			Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true}, true},
		{"bad traceparent falls back", map[string]string{"traceparent": "garbage", "X-Cloud-Trace-Context": "abc/0;o=0"},
			Trace{ID: "abc"}, true},
		{"zero trace", map[string]string{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, Trace{}, false},
		{"none", nil, Trace{}, false},
		{"junk", map[string]string{"X-Cloud-Trace-Context": "not a trace; o=2"}, Trace{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got, ok := TraceFromHeaders(h)
			if got != tc.want || ok != tc.ok {
				t.Errorf("TraceFromHeaders(%v) = %+v, %v; want %+v, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, &Options{ProjectID: "p"})
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "handled")
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/7;o=1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	got := decode(t, buf.Bytes())
	if got[0][TraceKey] != "projects/p/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("trace = %v; want projects/p/traces/105445aa7843bc8bf206b12000100000", got[0][TraceKey])
	}
}

// TestFingerprintRemembered: a token's fingerprint is remembered (a repeated call allocates
// nothing), and remembered answers are right for more tokens than Fingerprint keeps, whose
// slots collide and are replaced.
func TestFingerprintRemembered(t *testing.T) {
	want := func(tok string) string {
		sum := sha256.Sum256([]byte(tok))
		return "sha256:" + hex.EncodeToString(sum[:8])
	}
	for round := range 3 {
		for i := range 3 * fingerprintSlots {
			tok := fmt.Sprintf("ya29.token-%d", i)
			if got := Fingerprint(tok); got != want(tok) {
				t.Fatalf("round %d: Fingerprint(%q) = %q; want %q", round, tok, got, want(tok))
			}
		}
	}
	tok := "ya29.warm"
	Fingerprint(tok)
	if n := testing.AllocsPerRun(100, func() { Fingerprint(tok) }); n != 0 {
		t.Errorf("Fingerprint of a remembered token allocates %v times; want 0", n)
	}
}
