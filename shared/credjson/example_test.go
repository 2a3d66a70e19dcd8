package credjson_test

import (
	"fmt"

	"github.com/gcpconn/gcpconn/shared/credjson"
)

// Credential JSON is untrusted: its URLs must be Google's own. A look-alike host is refused,
// and the message never repeats a secret value.
func ExampleValidate() {
	err := credjson.Validate("user_account_json", []byte(`{
		"type": "authorized_user",
		"client_id": "764086051850.apps.googleusercontent.com",
		"client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
		"refresh_token": "1//0example",
		"token_uri": "https://oauth2.googleapis.com.attacker.example/token"
	}`))
	fmt.Println(err)
	// Output:
	// user_account_json: token_uri is not on an accepted Google host; it must be "https://oauth2.googleapis.com/token" or "https://accounts.google.com/o/oauth2/token", or left out
}
