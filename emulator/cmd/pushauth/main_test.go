package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRelay: each push is forwarded with a token minted for the push identity and audience,
// and the target's status comes back (so the emulator acknowledges, or delivers again, as
// Pub/Sub would); a token the fake will not mint is a 502, never an unauthenticated forward.
func TestRelay(t *testing.T) {
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Audience string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Email != "admin@example.com" {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id_token": "tok-for-" + in.Email + "-" + in.Audience})
	}))
	defer issuer.Close()
	var gotAuth, gotBody string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotAuth, gotBody = r.Header.Get("Authorization"), string(b)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer target.Close()
	r := &relay{target: target.URL, tokenURL: issuer.URL, email: "admin@example.com", audience: "http://aud"}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"message":{}}`)))
	if w.Code != http.StatusServiceUnavailable || gotAuth != "Bearer tok-for-admin@example.com-http://aud" || gotBody != `{"message":{}}` {
		t.Errorf("relay: status %d, forwarded %q with %q; want 503 back, the body with the minted token", w.Code, gotBody, gotAuth)
	}
	gotAuth = ""
	r.email = "nobody@example.com"
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)))
	if w.Code != http.StatusBadGateway || gotAuth != "" {
		t.Errorf("relay without a token: status %d, forwarded %q; want 502 and nothing forwarded", w.Code, gotAuth)
	}
}
