package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/gcs"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	admin   = "admin@p1.iam.gserviceaccount.com"
	empty   = "empty@p1.iam.gserviceaccount.com"
	scoped  = "scoped@p1.iam.gserviceaccount.com"
	viewer  = "viewer@p1.iam.gserviceaccount.com"
	outside = "outside@p2.iam.gserviceaccount.com"
)

// counter is a Wrapper that counts calls per endpoint.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Wrap(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[endpoint]++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *counter) count(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[endpoint]
}

const worldYAML = `
projects: [{id: p1, number: 101}, {id: p2, number: 202}]
bindings:
  - {resource: projects/p1, role: roles/storage.admin, members: ["serviceAccount:admin@p1.iam.gserviceaccount.com"]}
  - {resource: projects/_/buckets/b1, role: roles/storage.objectAdmin, members: ["serviceAccount:scoped@p1.iam.gserviceaccount.com"]}
  - {resource: projects/_/buckets/b1, role: roles/storage.objectViewer, members: ["serviceAccount:viewer@p1.iam.gserviceaccount.com"]}
  - {resource: projects/p2, role: roles/storage.admin, members: ["serviceAccount:outside@p2.iam.gserviceaccount.com"]}
buckets:
  - {name: b1, project: p1, location: europe-west1, objects: {data/a.txt: alpha, other/b.txt: beta}}
  - {name: b2, project: p1, location: us, objects: {c.txt: gamma}}
  - {name: b3, project: p2, location: us}
`

type fixture struct {
	world  *world.World
	url    string
	tokens *tokens.Registry
	calls  *counter
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML))
	if err != nil {
		t.Fatalf("world.Parse: %v", err)
	}
	reg := tokens.NewRegistry(time.Now)
	calls := &counter{n: map[string]int{}}
	srv, err := gcs.New(gcs.Options{
		World:  w,
		Auth:   &auth.Guard{World: w, Tokens: reg},
		Faults: calls,
	})
	if err != nil {
		t.Fatalf("gcs.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &fixture{world: w, url: hs.URL, tokens: reg, calls: calls}
}

func (f *fixture) token(email string, b *tokens.Boundary) string {
	return f.tokens.Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email, Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, Expiry: time.Now().Add(time.Hour), Boundary: b})
}

func (f *fixture) client(t testing.TB, token string) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(),
		option.WithEndpoint(f.url+"/storage/v1/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func listBuckets(ctx context.Context, c *storage.Client, project string) ([]string, error) {
	var names []string
	it := c.Buckets(ctx, project)
	for {
		b, err := it.Next()
		if errors.Is(err, iterator.Done) {
			sort.Strings(names)
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, b.Name)
	}
}

func read(ctx context.Context, c *storage.Client, bucket, object string) (string, error) {
	rd, err := c.Bucket(bucket).Object(object).NewReader(ctx)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	return string(b), err
}

func write(ctx context.Context, c *storage.Client, bucket, object string, data []byte, chunk int) error {
	wr := c.Bucket(bucket).Object(object).NewWriter(ctx)
	wr.ChunkSize = chunk
	if _, err := wr.Write(data); err != nil {
		wr.Close()
		return err
	}
	return wr.Close()
}

func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func TestBucketList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name, email, project string
		want                 []string
		wantCode             int
	}{
		{name: "admin sees only its project", email: admin, project: "p1", want: []string{"b1", "b2"}},
		{name: "project number works", email: admin, project: "101", want: []string{"b1", "b2"}},
		{name: "other project", email: outside, project: "p2", want: []string{"b3"}},
		{name: "empty SA denied", email: empty, project: "p1", wantCode: 403},
		{name: "bucket-scoped SA denied at project level", email: scoped, project: "p1", wantCode: 403},
		{name: "admin of p1 denied on p2", email: admin, project: "p2", wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := listBuckets(ctx, f.client(t, f.token(tt.email, nil)), tt.project)
			if tt.wantCode != 0 {
				if code(err) != tt.wantCode {
					t.Fatalf("Buckets(%q) error = %v; want code %d", tt.project, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Buckets(%q): %v", tt.project, err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Buckets(%q) = %v; want %v", tt.project, got, tt.want)
			}
		})
	}
}

func TestDeniedWording(t *testing.T) {
	f := newFixture(t)
	_, err := listBuckets(context.Background(), f.client(t, f.token(empty, nil)), "p1")
	want := empty + " does not have storage.buckets.list access to the Google Cloud project. Permission 'storage.buckets.list' denied on resource (or it may not exist)."
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Message != want {
		t.Fatalf("Buckets error = %v; want message %q", err, want)
	}
	if f.calls.count("storage.buckets.list") != 1 {
		t.Errorf("count(storage.buckets.list) = %d; want 1", f.calls.count("storage.buckets.list"))
	}
}

func TestBucketAttrs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	attrs, err := f.client(t, f.token(admin, nil)).Bucket("b1").Attrs(ctx)
	if err != nil {
		t.Fatalf("Attrs(b1): %v", err)
	}
	if attrs.Location != "EUROPE-WEST1" || attrs.ProjectNumber != 101 {
		t.Errorf("Attrs(b1) = location %q project %d; want EUROPE-WEST1 101", attrs.Location, attrs.ProjectNumber)
	}
	_, err = f.client(t, f.token(admin, nil)).Bucket("nope").Attrs(ctx)
	if code(err) != 403 && !errors.Is(err, storage.ErrBucketNotExist) {
		t.Errorf("Attrs(nope) error = %v; want 403 or not-exist", err)
	}
	_, err = f.client(t, f.token(empty, nil)).Bucket("b1").Attrs(ctx)
	if code(err) != 403 {
		t.Errorf("Attrs(b1) as empty SA error = %v; want 403", err)
	}
}

func TestObjects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 600<<10)
	type op struct {
		name     string
		email    string
		do       func(c *storage.Client) error
		wantCode int
	}
	readOp := func(b, o, want string) func(c *storage.Client) error {
		return func(c *storage.Client) error {
			got, err := read(ctx, c, b, o)
			if err == nil && got != want {
				t.Errorf("read %s/%s = %q; want %q", b, o, got, want)
			}
			return err
		}
	}
	tests := []op{
		{name: "scoped reads its bucket", email: scoped, do: readOp("b1", "data/a.txt", "alpha")},
		{name: "scoped denied on other bucket", email: scoped, do: readOp("b2", "c.txt", "gamma"), wantCode: 403},
		{name: "empty denied", email: empty, do: readOp("b1", "data/a.txt", "alpha"), wantCode: 403},
		{name: "scoped writes multipart", email: scoped, do: func(c *storage.Client) error {
			if err := write(ctx, c, "b1", "new/x.txt", []byte("hello"), 0); err != nil {
				return err
			}
			return readOp("b1", "new/x.txt", "hello")(c)
		}},
		{name: "scoped writes resumable", email: scoped, do: func(c *storage.Client) error {
			if err := write(ctx, c, "b1", "new/big.bin", big, 256<<10); err != nil {
				return err
			}
			return readOp("b1", "new/big.bin", string(big))(c)
		}},
		{name: "viewer cannot write", email: viewer, do: func(c *storage.Client) error {
			return write(ctx, c, "b1", "v.txt", []byte("no"), 0)
		}, wantCode: 403},
		{name: "viewer cannot write resumable", email: viewer, do: func(c *storage.Client) error {
			return write(ctx, c, "b1", "v.bin", big, 256<<10)
		}, wantCode: 403},
		{name: "viewer lists", email: viewer, do: func(c *storage.Client) error {
			it := c.Bucket("b1").Objects(ctx, &storage.Query{Prefix: "data/"})
			var names []string
			for {
				o, err := it.Next()
				if errors.Is(err, iterator.Done) {
					break
				}
				if err != nil {
					return err
				}
				names = append(names, o.Name)
			}
			if strings.Join(names, ",") != "data/a.txt" {
				t.Errorf("Objects(b1, data/) = %v; want [data/a.txt]", names)
			}
			return nil
		}},
		{name: "viewer cannot delete", email: viewer, do: func(c *storage.Client) error {
			return c.Bucket("b1").Object("other/b.txt").Delete(ctx)
		}, wantCode: 403},
		{name: "scoped deletes", email: scoped, do: func(c *storage.Client) error {
			if err := c.Bucket("b1").Object("other/b.txt").Delete(ctx); err != nil {
				return err
			}
			_, err := read(ctx, c, "b1", "other/b.txt")
			if !errors.Is(err, storage.ErrObjectNotExist) {
				t.Errorf("read after delete error = %v; want ErrObjectNotExist", err)
			}
			return nil
		}},
		{name: "admin reads object metadata", email: admin, do: func(c *storage.Client) error {
			a, err := c.Bucket("b2").Object("c.txt").Attrs(ctx)
			if err == nil && a.Size != 5 {
				t.Errorf("Attrs(b2/c.txt).Size = %d; want 5", a.Size)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do(f.client(t, f.token(tt.email, nil)))
			if tt.wantCode == 0 && err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if tt.wantCode != 0 && code(err) != tt.wantCode {
				t.Fatalf("%s error = %v; want code %d", tt.name, err, tt.wantCode)
			}
		})
	}
}

func TestBoundary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	readOnlyPrefix := &tokens.Boundary{Rules: []tokens.Rule{{
		Resource:    "//storage.googleapis.com/projects/_/buckets/b1",
		Permissions: []string{"inRole:roles/storage.objectViewer"},
		Condition:   "resource.name.startsWith('projects/_/buckets/b1/objects/data/')",
	}}}
	c := f.client(t, f.token(admin, readOnlyPrefix))
	if got, err := read(ctx, c, "b1", "data/a.txt"); err != nil || got != "alpha" {
		t.Errorf("read b1/data/a.txt = %q, %v; want alpha", got, err)
	}
	for _, tc := range []struct{ bucket, object string }{{"b1", "other/b.txt"}, {"b2", "c.txt"}} {
		if _, err := read(ctx, c, tc.bucket, tc.object); code(err) != 403 {
			t.Errorf("read %s/%s error = %v; want 403", tc.bucket, tc.object, err)
		}
	}
	if err := write(ctx, c, "b1", "data/new.txt", []byte("x"), 0); code(err) != 403 {
		t.Errorf("write b1/data/new.txt error = %v; want 403 (read-only boundary)", err)
	}
	if _, err := listBuckets(ctx, c, "p1"); code(err) != 403 {
		t.Errorf("Buckets(p1) with boundary error = %v; want 403", err)
	}
}

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, header string }{{"no token", ""}, {"unknown token", "Bearer ya29.nope"}} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.url+"/storage/v1/b?project=p1", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("GET /storage/v1/b status = %d; want 401", resp.StatusCode)
			}
		})
	}
}

func TestUnknownRoutesRefused(t *testing.T) {
	f := newFixture(t)
	tok := f.token(admin, nil)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/_internal/reseed"},
		{"POST", "/storage/v1/b?project=p1"},
		{"DELETE", "/storage/v1/b/b1"},
	} {
		req, _ := http.NewRequest(tc.method, f.url+tc.path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s %s status = %d; want 404", tc.method, tc.path, resp.StatusCode)
		}
	}
}

func TestTestPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	asked := []string{"storage.objects.get", "storage.objects.create", "storage.buckets.get"}
	tests := []struct {
		email string
		want  string
	}{
		{admin, "storage.objects.get,storage.objects.create,storage.buckets.get"},
		{viewer, "storage.objects.get"},
		{empty, ""},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			got, err := f.client(t, f.token(tt.email, nil)).Bucket("b1").IAM().TestPermissions(ctx, asked)
			if err != nil {
				t.Fatalf("TestPermissions: %v", err)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("TestPermissions(%v) = %v; want %s", asked, got, tt.want)
			}
		})
	}
}

func TestBucketAddedAtRunTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.world.AddBucket(world.Bucket{Name: "late", Project: "p1", Objects: map[string]string{"x": "late object"}}); err != nil {
		t.Fatalf("AddBucket: %v", err)
	}
	c := f.client(t, f.token(admin, nil))
	got, err := listBuckets(ctx, c, "p1")
	if err != nil || strings.Join(got, ",") != "b1,b2,late" {
		t.Errorf("Buckets(p1) = %v, %v; want [b1 b2 late]", got, err)
	}
	if got, err := read(ctx, c, "late", "x"); err != nil || got != "late object" {
		t.Errorf("read late/x = %q, %v; want %q", got, err, "late object")
	}
	f.world.RemoveBucket("late")
	// The bucket no longer belongs to p1, so the project binding no longer
	// reaches it: Google's "denied (or it may not exist)".
	if _, err := read(ctx, c, "late", "x"); code(err) != 403 {
		t.Errorf("read late/x after RemoveBucket error = %v; want 403", err)
	}
}

// TestBoundaryListPrefix checks Google's recipe for prefix-scoped listing:
// the objectListPrefix API attribute is evaluated against the list request's
// prefix parameter.
func TestBoundaryListPrefix(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := &tokens.Boundary{Rules: []tokens.Rule{
		{
			Resource:    "//storage.googleapis.com/projects/_/buckets/b1",
			Permissions: []string{"inRole:roles/storage.objectViewer"},
			Condition:   "resource.name.startsWith('projects/_/buckets/b1/objects/data/') || api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('data/')",
		},
	}}
	c := f.client(t, f.token(admin, b))
	list := func(prefix string) ([]string, error) {
		var names []string
		it := c.Bucket("b1").Objects(ctx, &storage.Query{Prefix: prefix})
		for {
			o, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return names, nil
			}
			if err != nil {
				return nil, err
			}
			names = append(names, o.Name)
		}
	}
	if got, err := list("data/"); err != nil || strings.Join(got, ",") != "data/a.txt" {
		t.Errorf("list b1 prefix data/ = %v, %v; want [data/a.txt]", got, err)
	}
	for _, prefix := range []string{"", "other/"} {
		if _, err := list(prefix); code(err) != 403 {
			t.Errorf("list b1 prefix %q error = %v; want 403", prefix, err)
		}
	}
}

func TestFaultInjection(t *testing.T) {
	w, err := world.Parse([]byte(worldYAML))
	if err != nil {
		t.Fatal(err)
	}
	reg := tokens.NewRegistry(time.Now)
	fs := faults.New()
	defer fs.Close()
	srv, err := gcs.New(gcs.Options{World: w, Auth: &auth.Guard{World: w, Tokens: reg}, Faults: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	tok := reg.Issue(tokens.Token{Member: "serviceAccount:" + admin, Email: admin, Expiry: time.Now().Add(time.Hour)})
	fs.Set("storage.buckets.get", faults.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	var codes []int
	for range 2 {
		req, _ := http.NewRequest("GET", hs.URL+"/storage/v1/b/b1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 503 || codes[1] != 200 {
		t.Errorf("GET bucket twice with one injected 503 = %v; want [503 200]", codes)
	}
	if n := fs.Count("storage.buckets.get"); n != 2 {
		t.Errorf("Count(storage.buckets.get) = %d; want 2", n)
	}
}
