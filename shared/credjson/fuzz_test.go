package credjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
)

// credFields are the fields FuzzValidate feeds, chosen by its first argument.
var credFields = []string{ServiceAccountJSON, UserAccountJSON, ExternalAccountJSON}

// FuzzValidate checks that credential JSON validation never panics, always
// answers with an *Error for the field, and never repeats a secret value in its
// message. The seed corpus (testdata/fuzz/FuzzValidate) holds valid and invalid
// configs of every type whose secret values contain the marker "SECRET". Run it with
//
//	go test -run '^$' -fuzz FuzzValidate ./shared/credjson/
func FuzzValidate(f *testing.F) {
	f.Add(uint8(0), []byte(credjsontest.JSON(credjsontest.ServiceAccountKey(nil))))
	f.Add(uint8(0), []byte(credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"private_key": credjsontest.PKCS1PEM(), "token_uri": "https://SECRET@oauth2.googleapis.com/token"}))))
	f.Add(uint8(1), []byte(credjsontest.JSON(credjsontest.AuthorizedUser(nil))))
	f.Add(uint8(2), []byte(credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{"credential_source": credjsontest.AWSSource(), "subject_token_type": SubjectTokenAWS4Request}))))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		field := credFields[int(which)%len(credFields)]
		err := Validate(field, data)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Field != field {
			t.Fatalf("Validate(%s) = %#v; want an *Error for %s", field, err, field)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) || len(msg) > 2000 {
			t.Fatalf("message is not short valid UTF-8: %q", msg)
		}
		if strings.Contains(msg, "SECRET") {
			t.Fatalf("message %q repeats a secret value (marker SECRET)", msg)
		}
		// The hint of a refusal quotes the PEM header: what a message shows of it is ours, not
		// the caller's, so it is blanked before the message is searched for secret values.
		shown := strings.ReplaceAll(msg, pemHeader, "\x00")
		for _, v := range fuzzSecretValues(data) {
			if strings.Contains(shown, v) {
				t.Fatalf("message %q repeats the secret value %q", msg, v)
			}
		}
	})
}

// pemHeader is the PEM header that a refusal of a private key quotes as a hint.
const pemHeader = "-----BEGIN PRIVATE KEY-----"

// fuzzSecretValues returns the secret values of a credential JSON (private_key,
// private_key_id, client_secret and refresh_token, and every line of a private key) that are
// long and distinctive enough that a message containing one must have copied it: at least 24
// bytes and not one of the URLs or constants that messages name.
func fuzzSecretValues(data []byte) []string {

	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	add := func(v string) {
		if len(v) >= 24 && !strings.Contains(v, "googleapis") && !strings.Contains(v, "urn:") &&
			!strings.Contains(v, "gserviceaccount") && !strings.HasPrefix(v, "http") {
			out = append(out, v)
		}
	}
	for _, k := range []string{"private_key", "private_key_id", "client_secret", "refresh_token"} {
		if v, ok := m[k].(string); ok {
			add(v)
			for line := range strings.SplitSeq(v, "\n") {
				if !strings.HasPrefix(line, "-----") {
					add(line)
				}
			}
		}
	}
	return out
}
