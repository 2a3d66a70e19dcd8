package connector_test

import (
	"fmt"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// now is the clock of the examples.
var now = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// A registration request names an auth method, the resources the connector serves and the
// method's configuration. NewConnector validates it and splits the configuration: secret
// fields go to Secrets, the rest to the connector's Config. This one impersonates a service
// account keylessly (from the service's own identity), which the deployment must allow, and
// serves one GCS bucket, given in any accepted spelling.
func ExampleNewConnector() {
	c, sec, err := connector.NewConnector(connector.RegisterRequest{
		Name:         "ml-data-writer",
		AuthMethod:   configschema.Impersonation,
		ResourceType: resourceid.GCSBucket,
		ResourceID:   "gs://ml-data/raw/2026", // stored canonical: the path is dropped
		Configuration: map[string]any{
			"project_id":       "ml-platform",
			"target_principal": "bucket-writer@ml-platform.iam.gserviceaccount.com",
		},
		Users: []string{"Pipeline@Example.com"},
	}, connector.Policy{AllowImplicit: true}, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resource:", c.ResourceTypes, c.ResourceID, "multi-instance:", c.SupportsInstances)
	fmt.Println("impersonates:", c.Config.TargetPrincipal)
	fmt.Println("users:", c.Users)
	fmt.Println("secret fields:", c.SecretFields, "secrets stored:", !sec.IsZero())
	// Output:
	// resource: [gcs-bucket] gs://ml-data multi-instance: false
	// impersonates: bucket-writer@ml-platform.iam.gserviceaccount.com
	// users: [pipeline@example.com]
	// secret fields: [] secrets stored: false
}

// Every refusal is an *Error with a kind for the HTTP edge, the request field at fault, and a
// message that says what is accepted.
func ExampleNewConnector_refused() {
	reqs := []connector.RegisterRequest{
		{Name: "a", AuthMethod: configschema.Implicit, Configuration: map[string]any{"project_id": "ml-platform"}},
		{Name: "b", AuthMethod: configschema.OAuth2Token, Configuration: map[string]any{"project_id": "ml-platform", "token": "ya29.a0Af", "region": "eu"}},
		{Name: "c", AuthMethod: configschema.OAuth2Token, Configuration: map[string]any{"project_id": "ml-platform", "token": "ya29.a0Af"}},
		{Name: "GCP_prod", AuthMethod: configschema.ServiceAccount},
	}
	for _, req := range reqs {
		_, _, err := connector.NewConnector(req, connector.Policy{}, now)
		fmt.Printf("%s %s: %s\n\n", connector.KindOf(err), connector.FieldOf(err), connector.MessageOf(err))
	}
	// Output:
	// failed_precondition auth_method: auth method implicit is disabled on this deployment: it would hand out tokens of the service's own identity; use service-account or impersonation instead, or an operator can enable implicit auth methods by setting GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true on the deployment
	//
	// invalid_argument configuration.region: unknown configuration field "region" for auth method oauth2-token; accepted fields: project_id, token, service_account_email
	//
	// invalid_argument expires_at: expires_at is required for oauth2-token connectors: say when the token expires (Google access tokens expire, usually after 1 hour)
	//
	// invalid_argument name: invalid connector name "GCP_prod": it must start with a lowercase letter
}

// Spec is the type spec that list-types returns: per auth method, its configuration schema
// with secret fields marked, and its lifetimes.
func ExampleSpec() {
	for _, am := range connector.Spec().AuthMethods {
		var secret []string
		for name, p := range am.ConfigSchema["properties"].(map[string]any) {
			if p.(map[string]any)["format"] == "password" {
				secret = append(secret, name)
			}
		}
		lifetime := "until expires_at"
		if am.MaxExpirationSeconds != nil {
			lifetime = fmt.Sprintf("%d-%ds", *am.MinExpirationSeconds, *am.MaxExpirationSeconds)
		}
		fmt.Printf("%-16s secret %v, lifetime %s\n", am.AuthMethod, secret, lifetime)
	}
	// Output:
	// implicit         secret [], lifetime 3600-3600s
	// user-account     secret [user_account_json], lifetime 3600-3600s
	// service-account  secret [service_account_json], lifetime 600-3600s
	// external-account secret [external_account_json], lifetime 3600-3600s
	// oauth2-token     secret [token], lifetime until expires_at
	// impersonation    secret [service_account_json], lifetime 600-3600s
}
