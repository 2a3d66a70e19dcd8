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
