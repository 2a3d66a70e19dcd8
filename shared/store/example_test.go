package store_test

import (
	"context"
	"fmt"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
)

// The registry writes a connector's secret version first, then the connector that pins it.
func ExampleMemory() {
	ctx := context.Background()
	connectors, secrets := store.NewMemory(), store.NewMemorySecrets()

	v, _ := secrets.AddVersion(ctx, "c1", connector.Secrets{Token: "ya29.example"})
	c := &connector.Connector{ID: "c1", Name: "orders-bucket", Type: connector.TypeGCP, AuthMethod: configschema.OAuth2Token,
		ResourceTypes: []connector.ResourceType{resourceid.GCSBucket}, SecretVersion: v}
	if err := connectors.Create(ctx, c); err != nil {
		fmt.Println(err)
	}
	err := connectors.Create(ctx, &connector.Connector{ID: "c2", Name: "orders-bucket"})
	fmt.Println(connector.KindOf(err))

	got, _ := connectors.GetByName(ctx, "orders-bucket")
	sec, _ := secrets.Access(ctx, got.ID, got.SecretVersion)
	fmt.Println(got.ID, got.Revision, got.SecretVersion, sec.Token != "")

	page, next, _ := connectors.List(ctx, connector.Filter{ResourceType: resourceid.GCSBucket}, connector.Page{Size: 10})
	fmt.Println(len(page), next == "")
	// Output:
	// already_exists
	// c1 1 1 true
	// 1 true
}
