package connector

import (
	"fmt"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// Examples of the rules that Mint, Verify and Update apply through unexported steps (the
// runtime shape, the lifetime clamp, an update's merge); the exported entry points are in
// example_test.go.

// exampleNow is the clock of these examples.
var exampleNow = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// resolveResource applies a connector's shape to a runtime request: a single-instance
// connector serves its own resource by default and refuses any other.
func Example_resolveResource() {
	c, _, _ := NewConnector(RegisterRequest{
		Name:          "prod-cluster",
		AuthMethod:    configschema.OAuth2Token,
		ResourceType:  resourceid.KubernetesCluster,
		ResourceID:    "projects/ml-platform/locations/us-east1/clusters/prod",
		Configuration: map[string]any{"project_id": "ml-platform", "token": "ya29.a0Af"},
		ExpiresAt:     new(exampleNow.Add(time.Hour)),
	}, Policy{}, exampleNow)

	for _, id := range []string{"", "prod", "europe-west1/prod"} {
		rt, canonical, err := c.resolveResource("", id)
		if err != nil {
			fmt.Printf("%q: %s: %s\n", id, KindOf(err), MessageOf(err))
			continue
		}
		fmt.Printf("%q: %s %s\n", id, rt, canonical)
	}
	// Output:
	// "": kubernetes-cluster us-east1/prod
	// "prod": kubernetes-cluster us-east1/prod
	// "europe-west1/prod": permission_denied: connector "prod-cluster" gives access to a single GKE Kubernetes cluster, "us-east1/prod", but "europe-west1/prod" was requested
}

// Token lifetimes are clamped to what the auth method allows, never refused, and the answer
// says why the applied lifetime differs from the requested one.
func Example_lifetime() {
	imp := &Connector{Name: "imp", AuthMethod: configschema.Impersonation}
	user := &Connector{Name: "user", AuthMethod: configschema.UserAccount}
	tok := &Connector{Name: "tok", AuthMethod: configschema.OAuth2Token, ExpiresAt: exampleNow.Add(42 * time.Minute)}
	for _, q := range []struct {
		c       *Connector
		seconds int
	}{{imp, 900}, {imp, 7200}, {imp, 0}, {user, 900}, {tok, 3600}} {
		lt, _ := q.c.lifetimeAt(q.seconds, exampleNow)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %ds → %s %s", q.c.AuthMethod, q.seconds, lt.Applied, lt.Reason)))
	}
	// Output:
	// impersonation 900s → 15m0s
	// impersonation 7200s → 1h0m0s impersonation tokens last at most 1h0m0s
	// impersonation 0s → 1h0m0s no lifetime requested: the impersonation default of 1h0m0s
	// user-account 900s → 1h0m0s user-account tokens come from a refresh grant, which Google issues for 1h0m0s
	// oauth2-token 3600s → 42m0s oauth2-token connectors hand out their stored token as is; it expires at 2026-11-22T09:42:00Z, in 42m0s
}

// An update replaces only what it names; the result is validated like a registration.
func Example_applyUpdate() {
	c, sec, _ := NewConnector(RegisterRequest{
		Name:          "shared-token",
		AuthMethod:    configschema.OAuth2Token,
		Configuration: map[string]any{"project_id": "ml-platform", "token": "ya29.old"},
		ExpiresAt:     new(exampleNow.Add(time.Hour)),
	}, Policy{}, exampleNow)

	// A new token without its expiry is refused: the stored expiry belongs to the old token.
	_, _, _, err := applyUpdate(c, sec, UpdateRequest{
		Configuration: map[string]any{"project_id": "ml-platform", "token": "ya29.new"},
	}, Policy{}, exampleNow)
	fmt.Println(err)

	next, _, changed, err := applyUpdate(c, sec, UpdateRequest{
		Configuration: map[string]any{"project_id": "ml-platform", "token": "ya29.new"},
		ExpiresAt:     new(exampleNow.Add(2 * time.Hour)),
	}, Policy{}, exampleNow)
	fmt.Println(next.ExpiresAt.Format(time.Kitchen), "secrets changed:", changed, err)
	// Output:
	// a new oauth2 token needs its expires_at: the stored expiry belongs to the old token
	// 11:00AM secrets changed: true <nil>
}
