package gcp

import (
	"reflect"
	"testing"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// TestGrantKeyCoversSecrets: the listing-token cache key changes with every secret value (a
// field added to connector.Secrets fails here until grantKey reads it), with the connector's
// Fingerprint, its id and the subject token.
func TestGrantKeyCoversSecrets(t *testing.T) {
	base := func() connector.Grant {
		g := connector.Grant{Connector: &connector.Connector{ID: "id", AuthMethod: configschema.ServiceAccount}}
		sv := reflect.ValueOf(&g.Secrets).Elem()
		for i := range sv.NumField() {
			sv.Field(i).SetString("secret-" + sv.Type().Field(i).Name)
		}
		return g
	}
	key := grantKey(base(), "subject")
	st := reflect.TypeFor[connector.Secrets]()
	for i := range st.NumField() {
		g := base()
		f := reflect.ValueOf(&g.Secrets).Elem().Field(i)
		if f.Kind() != reflect.String {
			t.Fatalf("Secrets.%s is a %s: teach this test and grantKey", st.Field(i).Name, f.Kind())
		}
		f.SetString(f.String() + "'")
		if grantKey(g, "subject") == key {
			t.Errorf("changing Secrets.%s leaves grantKey unchanged", st.Field(i).Name)
		}
	}
	changed := map[string]func(*connector.Grant) string{
		"connector id": func(g *connector.Grant) string { g.Connector.ID = "other"; return "subject" },
		"fingerprint":  func(g *connector.Grant) string { g.Connector.Config.ProjectID = "p2"; return "subject" },
		"subject":      func(g *connector.Grant) string { return "other subject" },
	}
	for name, change := range changed {
		g := base()
		if grantKey(g, change(&g)) == key {
			t.Errorf("changing the %s leaves grantKey unchanged", name)
		}
	}
}
