// Package faults counts calls to the fake Google endpoints and injects failures.
//
// Every fake handler is wrapped under a stable endpoint name ("oauth2.token",
// "sts.token", "iamcredentials.generateAccessToken", "storage.buckets.list", ...).
// Wrap counts each call, then applies the fault set for that endpoint, if any: added
// latency, an error status (429 or 503 in Google's error shape, with Retry-After; or one
// of Google's specific refusals, given its canonical status, message and policy violation,
// such as the organisation policy iam.disableServiceAccountKeyCreation) or a
// timeout (the request hangs until the client gives up). A fault applies to every call
// or to the next Times calls. Fault names may end in "*" to match a prefix
// ("storage.*", or "*" for everything).
//
// The same controls are served over HTTP by Handler: GET /admin/counts,
// POST /admin/faults, POST /admin/reset.
package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
)

// Fault is what to do to calls of an endpoint.
type Fault struct {
	// Latency is added before the call is answered.
	Latency time.Duration
	// Status, when non-zero, answers with this error status (429, 503, ...) instead of
	// calling the handler.
	Status int
	// Timeout makes the call hang until the client cancels it (or the server closes).
	Timeout bool
	// Times limits the fault to the next Times calls; 0 means every call.
	Times int
	// GoogleStatus, Message and Violation shape the error of Status as one of Google's
	// specific refusals: the canonical status ("FAILED_PRECONDITION"), the message, and a
	// PreconditionFailure violation type ("constraints/iam.disableServiceAccountKeyCreation").
	// Empty: the status's usual error with an "Injected fault" message.
	GoogleStatus, Message, Violation string
}

// Faults counts calls per endpoint and holds injected faults. The zero value is ready
// to use; it is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	counts map[string]int64
	faults map[string]*Fault
	closed chan struct{}
}

// New returns an empty Faults.
func New() *Faults { return &Faults{} }

func (f *Faults) initLocked() {
	if f.counts == nil {
		f.counts = map[string]int64{}
		f.faults = map[string]*Fault{}
		f.closed = make(chan struct{})
	}
}

// Wrap counts calls to h under endpoint and applies its faults.
func (f *Faults) Wrap(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault, closed := f.hit(endpoint)
		if fault.Latency > 0 {
			t := time.NewTimer(fault.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-closed:
				t.Stop()
				return
			}
		}
		if fault.Timeout {
			select {
			case <-r.Context().Done():
			case <-closed:
			}
			return
		}
		if fault.Status != 0 {
			msg := fault.Message
			if msg == "" {
				msg = fmt.Sprintf("Injected fault on %s.", endpoint)
			}
			gerr := googleerr.FromStatusName(fault.Status, fault.GoogleStatus, msg)
			if fault.Violation != "" {
				gerr.Violations = []string{fault.Violation}
			}
			if fault.Status == http.StatusTooManyRequests || fault.Status == http.StatusServiceUnavailable {
				gerr.RetryAfter = 1
			}
			googleerr.Write(w, gerr)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// WrapFunc is Wrap for a handler function.
func (f *Faults) WrapFunc(endpoint string, h http.HandlerFunc) http.Handler {
	return f.Wrap(endpoint, h)
}

// hit counts a call and returns the fault to apply to it (zero if none).
func (f *Faults) hit(endpoint string) (Fault, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initLocked()
	f.counts[endpoint]++
	key, fault := f.matchLocked(endpoint)
	if fault == nil {
		return Fault{}, f.closed
	}
	out := *fault
	if fault.Times > 0 {
		fault.Times--
		if fault.Times == 0 {
			delete(f.faults, key)
		}
	}
	return out, f.closed
}

// matchLocked finds the fault for endpoint: an exact name first, then the longest
// matching "prefix*" pattern.
func (f *Faults) matchLocked(endpoint string) (string, *Fault) {
	if fl, ok := f.faults[endpoint]; ok {
		return endpoint, fl
	}
	best := ""
	var found *Fault
	for k, fl := range f.faults {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(endpoint, p) && len(k) > len(best) {
			best, found = k, fl
		}
	}
	return best, found
}

// Set installs a fault for endpoint (an exact name or a "prefix*" pattern), replacing
// any previous one. A zero Fault removes it.
func (f *Faults) Set(endpoint string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initLocked()
	if fault == (Fault{}) {
		delete(f.faults, endpoint)
		return
	}
	f.faults[endpoint] = &fault
}

// Count returns how many calls endpoint has received.
func (f *Faults) Count(endpoint string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[endpoint]
}

// Counts returns a copy of all call counts.
func (f *Faults) Counts() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int64, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// Reset clears all counts and faults.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initLocked()
	clear(f.counts)
	clear(f.faults)
}

// Close releases every request held by a Timeout or Latency fault. Wrap keeps working
// afterwards but no longer delays or hangs.
func (f *Faults) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initLocked()
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
}

// FaultSpec is the JSON form of a fault for POST /admin/faults. Latency is a Go
// duration ("250ms"); latency_ms is accepted too.
type FaultSpec struct {
	Endpoint  string `json:"endpoint"`
	Latency   string `json:"latency,omitempty"`
	LatencyMS int64  `json:"latency_ms,omitempty"`
	Status    int    `json:"status,omitempty"`
	Timeout   bool   `json:"timeout,omitempty"`
	Times     int    `json:"times,omitempty"`
	// GoogleStatus, Message and Violation: see Fault.
	GoogleStatus string `json:"google_status,omitempty"`
	Message      string `json:"message,omitempty"`
	Violation    string `json:"violation,omitempty"`
}

// Fault converts the spec.
func (s FaultSpec) Fault() (Fault, error) {
	fl := Fault{Status: s.Status, Timeout: s.Timeout, Times: s.Times, Latency: time.Duration(s.LatencyMS) * time.Millisecond,
		GoogleStatus: s.GoogleStatus, Message: s.Message, Violation: s.Violation}
	if s.Latency != "" {
		d, err := time.ParseDuration(s.Latency)
		if err != nil {
			return Fault{}, fmt.Errorf("latency: %w", err)
		}
		fl.Latency = d
	}
	switch {
	case s.Endpoint == "":
		return Fault{}, fmt.Errorf("endpoint is required")
	case fl.Latency < 0 || fl.Times < 0:
		return Fault{}, fmt.Errorf("latency and times must not be negative")
	case fl.Status != 0 && (fl.Status < 400 || fl.Status > 599):
		return Fault{}, fmt.Errorf("status must be an HTTP error status (4xx or 5xx)")
	case fl.Status == 0 && (fl.GoogleStatus != "" || fl.Message != "" || fl.Violation != ""):
		return Fault{}, fmt.Errorf("google_status, message and violation need a status")
	}
	return fl, nil
}

// Handler serves the admin API:
//
//	GET  /admin/counts   -> {"oauth2.token": 3, ...}
//	POST /admin/faults   <- {"endpoint":"sts.token","status":503,"times":2} or a list of them
//	POST /admin/reset    clears counts and faults
func (f *Faults) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/counts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Counts())
	})
	mux.HandleFunc("POST /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			googleerr.Write(w, googleerr.InvalidArgument("read body: "+err.Error()))
			return
		}
		var specs []FaultSpec
		if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "[") {
			err = json.Unmarshal(b, &specs)
		} else {
			var one FaultSpec
			err = json.Unmarshal(b, &one)
			specs = []FaultSpec{one}
		}
		if err != nil {
			googleerr.Write(w, googleerr.InvalidArgument("faults: "+err.Error()))
			return
		}
		faults := make([]Fault, len(specs))
		for i, s := range specs {
			if faults[i], err = s.Fault(); err != nil {
				googleerr.Write(w, googleerr.InvalidArgument(fmt.Sprintf("faults[%d]: %v", i, err)))
				return
			}
		}
		for i, s := range specs {
			f.Set(s.Endpoint, faults[i])
		}
		writeJSON(w, http.StatusOK, f.Snapshot())
	})
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Snapshot())
	})
	mux.HandleFunc("POST /admin/reset", func(w http.ResponseWriter, r *http.Request) {
		f.Reset()
		writeJSON(w, http.StatusOK, map[string]any{})
	})
	return mux
}

// Snapshot returns the installed faults as specs, sorted by endpoint.
func (f *Faults) Snapshot() []FaultSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []FaultSpec{}
	for k, fl := range f.faults {
		s := FaultSpec{Endpoint: k, Status: fl.Status, Timeout: fl.Timeout, Times: fl.Times,
			GoogleStatus: fl.GoogleStatus, Message: fl.Message, Violation: fl.Violation}
		if fl.Latency > 0 {
			s.Latency = fl.Latency.String()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
