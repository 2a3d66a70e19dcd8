package configschema

import (
	"regexp"
	"testing"

	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// TestSpecPatternsAgreeWithValidation checks that the schema's project and service account
// email patterns accept exactly what validation accepts, on samples of both kinds.
func TestSpecPatternsAgreeWithValidation(t *testing.T) {
	project := regexp.MustCompile(projectIDPattern)
	for _, p := range []string{"my-project", "example.com:my-project", "abcdef", "a23456789012345678901234567890",
		"abcde", "a234567890123456789012345678901", "my-project-", "1project", "My-project", "my_project", "example:my-project", ":my-project"} {
		if got, want := project.MatchString(p), resourceid.CheckProjectID(p) == nil; got != want {
			t.Errorf("project %q: schema pattern says %v, validation says %v", p, got, want)
		}
	}
	email := regexp.MustCompile(saEmailPattern)
	for _, e := range []string{"ci@my-project.iam.gserviceaccount.com", "my-project@appspot.gserviceaccount.com",
		"123-compute@developer.gserviceaccount.com", "CI@p.iam.gserviceaccount.com", "ci@gmail.com", "@p.iam.gserviceaccount.com",
		"ci@p.iam.gserviceaccount.com.evil.com", "a_b@p.iam.gserviceaccount.com"} {
		if got, want := email.MatchString(e), credjson.CheckServiceAccountEmail(e) == nil; got != want {
			t.Errorf("email %q: schema pattern says %v, validation says %v", e, got, want)
		}
	}
}

// TestCheckExpirationSeconds checks the expiration_seconds rules of each kind of lifetime:
// a range, a fixed lifetime and none (oauth2-token).
func TestCheckExpirationSeconds(t *testing.T) {
	tests := []struct {
		method AuthMethod
		n      int
		want   string // "" when accepted
	}{
		{Impersonation, 600, ""},
		{Impersonation, 3600, ""},
		{Impersonation, 599, "expiration_seconds must be between 600 and 3600 seconds (10m0s to 1h0m0s) for auth method impersonation; got 599"},
		{Impersonation, 3601, "expiration_seconds must be between 600 and 3600 seconds (10m0s to 1h0m0s) for auth method impersonation; got 3601"},
		{ServiceAccount, -1, "expiration_seconds must be a positive number of seconds, or 0 for the default; got -1"},
		{UserAccount, 3600, ""},
		{UserAccount, 1800, "expiration_seconds cannot be chosen for auth method user-account: user-account tokens come from a refresh grant, which Google issues for 1h0m0s (3600 seconds); leave it out"},
		{OAuth2Token, 3600, "expiration_seconds does not apply to auth method oauth2-token: the stored token lasts until expires_at"},
	}
	for _, tt := range tests {
		err := Lookup(tt.method).CheckExpirationSeconds(tt.n)
		got := ""
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Field != "expiration_seconds" {
				t.Errorf("%s %d: error %v (%T), want an *Error for expiration_seconds", tt.method, tt.n, err, err)
				continue
			}
			got = e.Message
		}
		if got != tt.want {
			t.Errorf("%s %d: %q, want %q", tt.method, tt.n, got, tt.want)
		}
	}
}

// TestHandedOut checks which credential JSON each method hands out when
// generate_temporary_tokens is false: its own, and never that of implicit, impersonation or
// oauth2-token.
func TestHandedOut(t *testing.T) {
	want := map[AuthMethod]string{
		Implicit:        "",
		UserAccount:     FieldUserAccountJSON,
		ServiceAccount:  FieldServiceAccountJSON,
		ExternalAccount: FieldExternalAccountJSON,
		OAuth2Token:     "",
		Impersonation:   "",
	}
	for _, m := range Methods() {
		w, ok := want[m]
		if !ok {
			t.Errorf("%s: no expectation in this test", m)
		}
		if got := Lookup(m).HandedOut(); got != w {
			t.Errorf("%s: HandedOut() = %q; want %q", m, got, w)
		}
	}
}
