package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
)

// seedParallel is how many connectors are seeded at once (secrets, registrations).
const seedParallel = 32

// seed stores the connectors: in bulk on Firestore, through /register on the memory store
// (which lives in the serve process).
func (b *bench) seed(ctx context.Context) error {
	key, err := b.fake.KeyJSON(keyOwner)
	if err != nil {
		return err
	}
	var keyJSON map[string]any
	if err := json.Unmarshal(key, &keyJSON); err != nil {
		return err
	}
	if b.o.store == "memory" {
		return parallel(b.o.connectors, func(i int) error { return b.register(i, keyJSON) })
	}
	return b.seedFirestore(ctx, keyJSON)
}

// request is connector i's registration: the project owner's key, for bucket i.
func request(i int, keyJSON map[string]any) connector.RegisterRequest {
	no := false
	return connector.RegisterRequest{
		Name: fmt.Sprintf("bench-%07d", i), AuthMethod: configschema.ServiceAccount,
		ResourceType: resourceid.GCSBucket, ResourceID: "gs://" + bucketName(i),
		Configuration: map[string]any{"project_id": project, "service_account_json": keyJSON}, Verify: &no,
	}
}

// register registers connector i through the functions' /register.
func (b *bench) register(i int, keyJSON map[string]any) error {
	r := request(i, keyJSON)
	body, _ := json.Marshal(map[string]any{"name": r.Name, "auth_method": r.AuthMethod, "resource_type": r.ResourceType,
		"resource_id": r.ResourceID, "configuration": r.Configuration, "verify": false})
	status, out, err := b.call(http.MethodPost, "/register", body)
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("register %s: %d %s %v", r.Name, status, out, err)
	}
	return nil
}

// seedFirestore builds each connector as Register would (connector.NewConnector), stores its
// secret in the fake's Secret Manager through the store's code, and writes the connector
// documents with Firestore's BulkWriter (store.Firestore.CreateMany), as the functions read
// them (project zenml-core, collection app.Collection).
func (b *bench) seedFirestore(ctx context.Context, keyJSON map[string]any) error {
	sm, err := secretmanager.NewRESTClient(ctx, option.WithEndpoint(b.fake.URL("secretmanager")))
	if err != nil {
		return err
	}
	defer sm.Close()
	secrets := store.NewSecretManager(sm, project, store.SecretManagerOptions{})
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		return err
	}
	defer fs.Close()
	cs := make([]*connector.Connector, b.o.connectors)
	owner := connector.Principal{Email: admin}.String()
	err = parallel(b.o.connectors, func(i int) error {
		c, sec, err := connector.NewConnector(request(i, keyJSON), connector.Policy{}, time.Now())
		if err != nil {
			return err
		}
		c.ID, c.Owner = newID(), owner
		if c.SecretVersion, err = secrets.AddVersion(ctx, c.ID, sec); err != nil {
			return err
		}
		cs[i] = c
		return nil
	})
	if err != nil {
		return err
	}
	docs := store.NewFirestore(fs, app.Collection)
	for len(cs) > 0 { // BulkWriter holds what it has not sent in memory: hand it 2,000 at a time
		n := min(len(cs), 2000)
		if err := docs.CreateMany(ctx, cs[:n]); err != nil {
			return err
		}
		cs = cs[n:]
	}
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parallel runs f(0..n-1), seedParallel at a time, and returns the first error.
func parallel(n int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	work := make(chan int)
	for range seedParallel {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

// call makes an admin's request to the functions.
func (b *bench) call(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, b.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, err = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes(), err
}
