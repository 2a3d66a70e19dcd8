package connector_test

// Tests of the registry use cases (Register, Update, Delete, Get, List, Orphans) and of who
// may do what. Helpers start with rg to keep clear of other files' helpers.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

// rgClock is a settable clock shared by a Service and its secret store.
type rgClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rgClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rgClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	rgAdmin = "admin@example.com"
	rgAlice = "alice@example.com"
	rgBob   = "bob@example.com"
	rgCarol = "carol@example.com"
)

var rgStart = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// rgEnv is a Service over memory stores with a shared clock.
type rgEnv struct {
	svc     *connector.Service
	store   *store.Memory
	secrets *store.MemorySecrets
	clock   *rgClock
	google  *mtGoogle
}

func rgNew(t *testing.T) *rgEnv {
	t.Helper()
	clk := &rgClock{t: rgStart}
	st, sec := store.NewMemory(), store.NewMemorySecrets()
	st.Now, sec.Now = clk.Now, clk.Now
	g := &mtGoogle{}
	n := 0
	var mu sync.Mutex
	return &rgEnv{
		svc: &connector.Service{
			Store: st, Secrets: sec, Google: g, Now: clk.Now,
			Policy: connector.Policy{Admins: []string{rgAdmin}},
			NewID: func() string {
				mu.Lock()
				defer mu.Unlock()
				n++
				return fmt.Sprintf("cid%03d", n)
			},
		},
		store: st, secrets: sec, clock: clk, google: g,
	}
}

func rgP(email string) connector.Principal { return connector.Principal{Email: email} }

var rgNoVerify = func() *bool { b := false; return &b }()

// rgReq is a valid oauth2-token registration: its token is its only secret field.
func rgReq(name, token string, users ...string) connector.RegisterRequest {
	exp := rgStart.Add(time.Hour)
	return connector.RegisterRequest{
		Name:          name,
		AuthMethod:    configschema.OAuth2Token,
		ResourceType:  resourceid.GCSBucket,
		Configuration: map[string]any{"project_id": "proj-1", "token": token},
		ExpiresAt:     &exp,
		Users:         users,
		Labels:        map[string]string{"team": "data"},
		Verify:        rgNoVerify,
	}
}

func rgNewToken(token string) connector.UpdateRequest {
	exp := rgStart.Add(2 * time.Hour)
	return connector.UpdateRequest{Configuration: map[string]any{"project_id": "proj-1", "token": token}, ExpiresAt: &exp, Verify: rgNoVerify}
}

func (e *rgEnv) register(t *testing.T, owner string, r connector.RegisterRequest) *connector.Connector {
	t.Helper()
	c, _, err := e.svc.Register(context.Background(), rgP(owner), r)
	if err != nil {
		t.Fatalf("Register(%q) as %s = %v; want nil", r.Name, owner, err)
	}
	return c
}

// secretIDs returns the connector ids that have a secret.
func (e *rgEnv) secretIDs(t *testing.T) []string {
	t.Helper()
	ids, err := e.secrets.ListConnectorIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// connectors returns every stored connector.
func (e *rgEnv) connectors(t *testing.T) []*connector.Connector {
	t.Helper()
	cs, _, err := e.store.List(context.Background(), connector.Filter{}, connector.Page{Size: connector.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func rgKind(t *testing.T, call string, err error, want connector.Kind) {
	t.Helper()
	if got := connector.KindOf(err); got != want {
		t.Errorf("%s = %v (kind %q); want kind %q", call, err, got, want)
	}
}

func TestRegisterStoresConnectorAndSecret(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	c := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
	if c.ID != "cid001" || c.Owner != rgAlice || c.SecretVersion == "" || c.Revision == 0 || c.CreatedAt.IsZero() {
		t.Errorf("Register = id %q owner %q version %q revision %d created %v; want cid001, %s, a version, a revision, a time",
			c.ID, c.Owner, c.SecretVersion, c.Revision, c.CreatedAt, rgAlice)
	}
	sec, err := e.secrets.Access(ctx, c.ID, c.SecretVersion)
	if err != nil || sec.Token != "ya29.first" {
		t.Errorf("the pinned secret version holds the registered token = %v, %v; want true, nil", sec.Token == "ya29.first", err)
	}
	for _, ref := range []string{"orders", c.ID} {
		got, err := e.svc.Get(ctx, rgP(rgAlice), ref)
		if err != nil || got.ID != c.ID {
			t.Errorf("Get(%q) as owner = %v, %v; want %s", ref, got, err, c.ID)
		}
	}
	_, _, err = e.svc.Register(ctx, rgP(rgBob), rgReq("orders", "ya29.other"))
	rgKind(t, "Register of a taken name", err, connector.ErrAlreadyExists)
	if ids := e.secretIDs(t); !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("secrets after a refused registration = %q; want only %q", ids, c.ID)
	}
	_, _, err = e.svc.Register(ctx, connector.Principal{}, rgReq("anon", "ya29.x"))
	rgKind(t, "Register without a principal", err, connector.ErrUnauthenticated)
	bad := rgReq("bad", "ya29.x")
	bad.Configuration = map[string]any{"token": "ya29.x"}
	_, _, err = e.svc.Register(ctx, rgP(rgAlice), bad)
	rgKind(t, "Register without project_id", err, connector.ErrInvalid)
	if n := len(e.connectors(t)); n != 1 {
		t.Errorf("connectors after refused registrations = %d; want 1", n)
	}
}

func TestRegisterVerifies(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	e.google.TokenFunc = func(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
		return connector.Token{}, &connector.Error{Kind: connector.ErrUpstreamDenied, Message: "Request had invalid authentication credentials."}
	}
	r := rgReq("denied", "ya29.bad")
	r.Verify = nil // verify by default
	_, res, err := e.svc.Register(ctx, rgP(rgAlice), r)
	rgKind(t, "Register of credentials Google refuses", err, connector.ErrInvalid)
	if res == nil || res.Error == "" {
		t.Errorf("Register of credentials Google refuses returned resources %+v; want the reason in Error", res)
	}
	if n, ids := len(e.connectors(t)), e.secretIDs(t); n != 0 || len(ids) != 0 {
		t.Errorf("after a failed verification: %d connectors, secrets %q; want none", n, ids)
	}
	e.google.TokenFunc = nil
	c, res, err := e.svc.Register(ctx, rgP(rgAlice), r)
	if err != nil || res == nil || res.Error != "" || c == nil {
		t.Fatalf("Register with working credentials = %v, %+v, %v; want a connector and its resources", c, res, err)
	}
}

func TestAuthorization(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	tests := []struct {
		who               string
		read, use, update bool // update also stands for delete
	}{
		{rgAdmin, true, true, true},
		{rgAlice, true, true, true},             // owner
		{"ALICE@example.com", true, true, true}, // emails compare case-insensitively
		{rgBob, true, true, false},              // user
		{rgCarol, false, false, false},          // stranger
	}
	for i, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			c := e.register(t, rgAlice, rgReq(fmt.Sprint("c-", i), "ya29.x", rgBob))
			_, err := e.svc.Get(ctx, rgP(tt.who), c.Name)
			if (err == nil) != tt.read {
				t.Errorf("Get as %s = %v; want allowed %v", tt.who, err, tt.read)
			}
			if !tt.read {
				rgKind(t, "Get as a stranger", err, connector.ErrNotFound)
				if got, want := connector.MessageOf(err), fmt.Sprintf("connector %q not found", c.Name); got != want {
					t.Errorf("Get as a stranger says %q; want %q (as for a missing connector)", got, want)
				}
			}
			desc := "changed"
			_, err = e.svc.Update(ctx, rgP(tt.who), c.ID, connector.UpdateRequest{Description: &desc})
			if (err == nil) != tt.update {
				t.Errorf("Update as %s = %v; want allowed %v", tt.who, err, tt.update)
			}
			if !tt.update {
				// A user sees the connector, so is told no; a stranger is told it does not exist.
				want := connector.ErrNotFound
				if tt.read {
					want = connector.ErrPermission
				}
				rgKind(t, "Update without the right", err, want)
			}
			err = e.svc.Delete(ctx, rgP(tt.who), c.Name)
			if (err == nil) != tt.update {
				t.Errorf("Delete as %s = %v; want allowed %v", tt.who, err, tt.update)
			}
		})
	}
	_, err := e.svc.Get(ctx, connector.Principal{}, "x")
	rgKind(t, "Get without a principal", err, connector.ErrUnauthenticated)
	_, _, err = e.svc.List(ctx, connector.Principal{}, connector.Filter{}, connector.Page{})
	rgKind(t, "List without a principal", err, connector.ErrUnauthenticated)
	_, err = e.svc.Get(ctx, rgP(rgAlice), "no-such-connector")
	rgKind(t, "Get of a missing connector", err, connector.ErrNotFound)
}

func TestListShowsOnlyReadable(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	var bobs []string
	for i := range 12 {
		owner, users := rgAlice, []string(nil)
		switch i % 3 {
		case 1:
			owner = rgBob
		case 2:
			users = []string{rgBob}
		}
		c := e.register(t, owner, rgReq(fmt.Sprintf("c%02d", i), "ya29.x", users...))
		if i%3 != 0 {
			bobs = append(bobs, c.Name)
		}
	}
	for _, size := range []int{1, 2, 3, 5, 8, 50} {
		var got []string
		tok := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("List did not end")
			}
			cs, next, err := e.svc.List(ctx, rgP(rgBob), connector.Filter{}, connector.Page{Size: size, Token: tok})
			if err != nil {
				t.Fatalf("List as bob = %v", err)
			}
			if len(cs) > size {
				t.Errorf("List(size %d) returned %d connectors", size, len(cs))
			}
			for _, c := range cs {
				got = append(got, c.Name)
			}
			if next == "" {
				break
			}
			tok = next
		}
		if !slices.Equal(got, bobs) {
			t.Errorf("List as bob, size %d = %q; want %q", size, got, bobs)
		}
	}
	all, _, err := e.svc.List(ctx, rgP(rgAdmin), connector.Filter{Labels: map[string]string{"team": "data"}}, connector.Page{})
	if err != nil || len(all) != 12 {
		t.Errorf("List as admin = %d connectors, %v; want 12", len(all), err)
	}
	none, next, err := e.svc.List(ctx, rgP(rgCarol), connector.Filter{}, connector.Page{Size: 5})
	if err != nil || len(none) != 0 || next != "" {
		t.Errorf("List as a stranger = %d, %q, %v; want nothing and no token", len(none), next, err)
	}
}

func TestUpdateReplacesSecretVersion(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	c := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
	up, err := e.svc.Update(ctx, rgP(rgAlice), "orders", rgNewToken("ya29.second"))
	if err != nil {
		t.Fatalf("Update(new token) = %v; want nil", err)
	}
	if up.SecretVersion == c.SecretVersion || up.Revision <= c.Revision {
		t.Errorf("Update pinned version %q revision %d; want a new version than %q and revision > %d", up.SecretVersion, up.Revision, c.SecretVersion, c.Revision)
	}
	if sec, err := e.secrets.Access(ctx, c.ID, up.SecretVersion); err != nil || sec.Token != "ya29.second" {
		t.Errorf("new version holds the new token = %v, %v; want true, nil", sec.Token == "ya29.second", err)
	}
	_, err = e.secrets.Access(ctx, c.ID, c.SecretVersion)
	rgKind(t, "Access of the replaced version", err, connector.ErrFailedPrecondition)
	if v := e.secrets.Versions(c.ID); !slices.Equal(v, []string{up.SecretVersion}) {
		t.Errorf("enabled versions after Update = %q; want only %q", v, up.SecretVersion)
	}

	desc := "labels and description only"
	up2, err := e.svc.Update(ctx, rgP(rgAlice), c.ID, connector.UpdateRequest{Description: &desc, Labels: map[string]string{}})
	if err != nil || up2.SecretVersion != up.SecretVersion || up2.Description != desc || len(up2.Labels) != 0 {
		t.Errorf("Update(description, labels) = %+v, %v; want same version %q, new description, no labels", up2, err, up.SecretVersion)
	}

	// A disabled pinned version is repaired by new credentials.
	if err := e.secrets.DisableVersion(ctx, c.ID, up.SecretVersion); err != nil {
		t.Fatal(err)
	}
	up3, err := e.svc.Update(ctx, rgP(rgAlice), c.ID, rgNewToken("ya29.third"))
	if err != nil {
		t.Fatalf("Update(new token) of a connector with a disabled version = %v; want nil", err)
	}
	if sec, err := e.secrets.Access(ctx, c.ID, up3.SecretVersion); err != nil || sec.Token != "ya29.third" {
		t.Errorf("repaired version holds the new token = %v, %v; want true, nil", sec.Token == "ya29.third", err)
	}

	// Renaming onto a taken name fails and leaves no new version behind.
	e.register(t, rgAlice, rgReq("taken", "ya29.t"))
	taken := "taken"
	u := rgNewToken("ya29.fourth")
	u.Name = &taken
	_, err = e.svc.Update(ctx, rgP(rgAlice), c.ID, u)
	rgKind(t, "Update renaming onto a taken name", err, connector.ErrAlreadyExists)
	if v := e.secrets.Versions(c.ID); !slices.Equal(v, []string{up3.SecretVersion}) {
		t.Errorf("enabled versions after a failed rename = %q; want only %q", v, up3.SecretVersion)
	}
}

func TestDeleteRemovesSecret(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	c := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
	keep := e.register(t, rgAlice, rgReq("keep", "ya29.keep"))
	if err := e.svc.Delete(ctx, rgP(rgAlice), "orders"); err != nil {
		t.Fatalf("Delete = %v; want nil", err)
	}
	_, err := e.svc.Get(ctx, rgP(rgAlice), c.ID)
	rgKind(t, "Get after Delete", err, connector.ErrNotFound)
	if ids := e.secretIDs(t); !slices.Equal(ids, []string{keep.ID}) {
		t.Errorf("secrets after Delete = %q; want only %q", ids, keep.ID)
	}
	rgKind(t, "second Delete", e.svc.Delete(ctx, rgP(rgAlice), "orders"), connector.ErrNotFound)
}

func TestConcurrentRegisterOneName(t *testing.T) {
	e := rgNew(t)
	storetest.ExactlyOneWins(t, "concurrent registrations of one name", 50, connector.ErrAlreadyExists, func(i int) error {
		_, _, err := e.svc.Register(context.Background(), rgP(rgAlice), rgReq("contended", fmt.Sprint("ya29.", i)))
		return err
	})
	cs := e.connectors(t)
	if len(cs) != 1 {
		t.Fatalf("connectors after the race = %d; want 1", len(cs))
	}
	// The losers cleaned up at once: no orphan, not even one waiting for sweep.
	if ids := e.secretIDs(t); !slices.Equal(ids, []string{cs[0].ID}) {
		t.Errorf("secrets after the race = %q; want only the winner's %q", ids, cs[0].ID)
	}
}

func TestOrphans(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	c := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
	if _, err := e.secrets.AddVersion(ctx, "gone-old", connector.Secrets{Token: "x"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(connector.OrphanGrace + time.Minute)
	if _, err := e.secrets.AddVersion(ctx, "in-flight", connector.Secrets{Token: "y"}); err != nil {
		t.Fatal(err)
	}
	got, err := keeper(e.svc).Orphans(ctx)
	if err != nil || !slices.Equal(got, []string{"gone-old"}) {
		t.Errorf("Orphans() = %q, %v; want [gone-old] (not %s, which has a connector, nor in-flight, which is young)", got, err, c.ID)
	}
	e.clock.Advance(connector.OrphanGrace + time.Minute)
	got, err = keeper(e.svc).Orphans(ctx)
	if err != nil || !slices.Equal(got, []string{"gone-old", "in-flight"}) {
		t.Errorf("Orphans() later = %q, %v; want [gone-old in-flight]", got, err)
	}
	noAges := &connector.Service{Store: e.store, Secrets: struct{ connector.SecretStore }{e.secrets}}
	_, err = keeper(noAges).Orphans(ctx)
	rgKind(t, "Orphans over a secret store without ages", err, connector.ErrFailedPrecondition)
	if !errors.Is(err, connector.ErrFailedPrecondition) {
		t.Errorf("errors.Is(Orphans error, ErrFailedPrecondition) = false")
	}
}
