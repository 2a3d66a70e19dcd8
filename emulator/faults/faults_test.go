package faults

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
)

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

func call(t *testing.T, h http.Handler) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return rec.Code
}

func TestWrapCountsAndFaults(t *testing.T) {
	f := New()
	h := f.Wrap("storage.buckets.list", http.HandlerFunc(ok))
	other := f.Wrap("storage.objects.get", http.HandlerFunc(ok))
	if code := call(t, h); code != 200 {
		t.Errorf("call without fault = %d; want 200", code)
	}
	f.Set("storage.buckets.list", Fault{Status: 503, Times: 2})
	for i, want := range []int{503, 503, 200} {
		if code := call(t, h); code != want {
			t.Errorf("call %d = %d; want %d", i, code, want)
		}
	}
	f.Set("storage.*", Fault{Status: 429})
	if code := call(t, other); code != 429 {
		t.Errorf("call under a prefix fault = %d; want 429", code)
	}
	f.Set("storage.objects.get", Fault{Status: 404})
	if code := call(t, other); code != 404 {
		t.Errorf("exact fault beats prefix: got %d; want 404", code)
	}
	if got := f.Count("storage.buckets.list"); got != 4 {
		t.Errorf("Count = %d; want 4", got)
	}
	if got := f.Counts(); got["storage.objects.get"] != 2 {
		t.Errorf("Counts() = %v; want storage.objects.get 2", got)
	}
	f.Reset()
	if code := call(t, other); code != 200 || f.Count("storage.buckets.list") != 0 {
		t.Errorf("after Reset: call = %d, count = %d; want 200, 0", code, f.Count("storage.buckets.list"))
	}
}

func TestTimeoutReleasedByClientAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New()
		h := f.Wrap("sts.token", http.HandlerFunc(ok))
		f.Set("sts.token", Fault{Timeout: true})
		ctx, cancel := context.WithCancel(context.Background())
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("a call under a Timeout fault returned before its client gave up")
		default:
		}
		cancel()
		<-done
		if rec.Body.Len() != 0 {
			t.Errorf("timed-out call wrote %q; want nothing", rec.Body)
		}
		// Close releases calls that are still held.
		released := make(chan struct{})
		go func() {
			defer close(released)
			call(t, h)
		}()
		synctest.Wait() // the second call is held by the fault
		if got := f.Count("sts.token"); got != 2 {
			t.Fatalf("Count = %d with the second call held; want 2", got)
		}
		select {
		case <-released:
			t.Fatal("a call under a Timeout fault returned before Close")
		default:
		}
		f.Close()
		<-released
	})
}

func TestHandler(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	tests := []struct {
		body string
		want int
	}{
		{`{"endpoint":"sts.token","status":503,"times":1}`, 200},
		{`[{"endpoint":"a","latency":"5ms"},{"endpoint":"b","latency_ms":3}]`, 200},
		{`{"endpoint":"x","latency":"soon"}`, 400},
		{`{"status":503}`, 400},
		{`{"endpoint":"x","status":302}`, 400},
		{`not json`, 400},
	}
	for _, tt := range tests {
		resp, err := http.Post(srv.URL+"/admin/faults", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("POST /admin/faults %s = %d; want %d", tt.body, resp.StatusCode, tt.want)
		}
	}
	snap := f.Snapshot()
	if len(snap) != 3 || snap[0].Endpoint != "a" || snap[0].Latency != "5ms" || snap[2].Status != 503 {
		t.Errorf("Snapshot() = %+v; want a (5ms), b, sts.token (503)", snap)
	}
}

// TestGoogleRefusal: a fault may answer one of Google's specific refusals (canonical status,
// message, PreconditionFailure violation), set directly or over POST /admin/faults; those
// fields need a status.
func TestGoogleRefusal(t *testing.T) {
	f := New()
	h := f.Wrap("iam.serviceAccountKeys.create", http.HandlerFunc(ok))
	admin := f.Handler()
	spec := `{"endpoint":"iam.serviceAccountKeys.create","status":400,"google_status":"FAILED_PRECONDITION",` +
		`"message":"Key creation is not allowed on this service account.","violation":"constraints/iam.disableServiceAccountKeyCreation","times":1}`
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/faults", strings.NewReader(spec)))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"violation":"constraints/iam.disableServiceAccountKeyCreation"`) {
		t.Fatalf("POST /admin/faults = %d %s; want 200 listing the fault", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	body := rec.Body.String()
	for _, want := range []string{`"status":"FAILED_PRECONDITION"`, `"reason":"failedPrecondition"`, `"message":"Key creation is not allowed on this service account."`,
		`"@type":"type.googleapis.com/google.rpc.PreconditionFailure"`, `"type":"constraints/iam.disableServiceAccountKeyCreation"`} {
		if rec.Code != 400 || !strings.Contains(body, want) {
			t.Errorf("refusal = %d %s; want 400 with %s", rec.Code, body, want)
		}
	}
	if code := call(t, h); code != 200 {
		t.Errorf("after the one refusal: %d; want 200", code)
	}
	rec = httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/faults", strings.NewReader(`{"endpoint":"x","message":"no status"}`)))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "need a status") {
		t.Errorf("a message without a status = %d %s; want 400", rec.Code, rec.Body)
	}
}
