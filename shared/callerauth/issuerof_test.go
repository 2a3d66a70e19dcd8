package callerauth_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
)

// TestIssuerOf: the issuer a refused request's token claims is named from a fixed set, never
// with the token's own text.
func TestIssuerOf(t *testing.T) {
	iss := callerauthtest.New(t)
	v := iss.Verifier("https://aud.test", nil)
	google := iss.Token(t, "a@example.com", "https://other-audience.test", time.Now().Add(time.Hour), nil)
	// A JWT claiming an issuer nobody trusts: {"alg":"RS256"}.{"iss":"https://evil.test/x"}.sig
	untrusted := "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V2aWwudGVzdC94In0.c2ln"
	for _, tt := range []struct{ name, header, want string }{
		{"no header", "", callerauth.IssuerNone},
		{"basic", "Basic dXNlcjpwYXNz", callerauth.IssuerNone},
		{"not a jwt", "Bearer abc", callerauth.IssuerMalformed},
		{"google (refused for its audience)", "Bearer " + google, "google"},
		{"untrusted", "Bearer " + untrusted, callerauth.IssuerUntrusted},
	} {
		r, _ := http.NewRequest("GET", "http://x/list", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got := v.IssuerOf(r)
		if got != tt.want {
			t.Errorf("%s: IssuerOf = %q; want %q", tt.name, got, tt.want)
		}
		if strings.Contains(got, "evil") {
			t.Errorf("%s: IssuerOf repeats the token's text: %q", tt.name, got)
		}
	}
}
