package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/emulator/tokens"
)

// iamClient is the production client shape: REST, WithEndpoint + WithTokenSource.
func (f *fake) iamClient(t *testing.T, accessToken string) *credentials.IamCredentialsClient {
	t.Helper()
	c, err := credentials.NewIamCredentialsRESTClient(context.Background(),
		option.WithEndpoint(f.URL),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func saName(email string) string { return "projects/-/serviceAccounts/" + email }

func httpCode(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	return 0
}

func TestGenerateAccessToken(t *testing.T) {
	f := newFake(t)
	tests := []struct {
		name      string
		caller    string
		target    string
		delegates []string
		lifetime  time.Duration
		scopes    []string
		wantCode  int
		wantMsg   string
	}{
		{name: "token creator", caller: emptySA, target: bucketSA, lifetime: 15 * time.Minute},
		{name: "default lifetime", caller: emptySA, target: bucketSA},
		{name: "delegation chain", caller: runtimeSA, target: bucketSA, delegates: []string{emptySA}},
		{name: "extended lifetime allowed", caller: runtimeSA, target: adminSA, lifetime: 12 * time.Hour},
		{name: "lifetime over 1h", caller: emptySA, target: bucketSA, lifetime: 2 * time.Hour, wantCode: 400, wantMsg: "between 1s and 3600s"},
		{name: "lifetime over 12h", caller: runtimeSA, target: adminSA, lifetime: 13 * time.Hour, wantCode: 400, wantMsg: "between 1s and 43200s"},
		{name: "no scope", caller: emptySA, target: bucketSA, scopes: []string{}, wantCode: 400, wantMsg: "Scope required"},
		{name: "not a token creator", caller: emptySA, target: adminSA, wantCode: 403,
			wantMsg: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource 'projects/zenml-core/serviceAccounts/" + adminSA + "' (or it may not exist)."},
		{name: "broken delegation chain", caller: emptySA, target: adminSA, delegates: []string{bucketSA}, wantCode: 403, wantMsg: "iam.serviceAccounts.getAccessToken"},
		{name: "unknown target", caller: runtimeSA, target: "ghost@zenml-core.iam.gserviceaccount.com", wantCode: 404, wantMsg: "Gaia id not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scopes := tt.scopes
			if scopes == nil {
				scopes = []string{identity.CloudPlatform}
			}
			req := &credentialspb.GenerateAccessTokenRequest{Name: saName(tt.target), Scope: scopes}
			for _, d := range tt.delegates {
				req.Delegates = append(req.Delegates, saName(d))
			}
			if tt.lifetime > 0 {
				req.Lifetime = durationpb.New(tt.lifetime)
			}
			resp, err := f.iamClient(t, f.token(tt.caller)).GenerateAccessToken(context.Background(), req)
			if tt.wantCode != 0 {
				if httpCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("GenerateAccessToken = %v; want HTTP %d containing %q", err, tt.wantCode, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("GenerateAccessToken = %v; want success", err)
			}
			want := tt.lifetime
			if want == 0 {
				want = time.Hour
			}
			if got := resp.GetExpireTime().AsTime().Sub(f.Clock.Now()); got < want-2*time.Second || got > want+time.Second {
				t.Errorf("expireTime - now = %v; want %v", got, want)
			}
			tok, err := f.Tokens.Lookup(resp.GetAccessToken())
			if err != nil || tok.Member != "serviceAccount:"+tt.target {
				t.Errorf("minted token = %+v, %v; want member serviceAccount:%s", tok, err, tt.target)
			}
		})
	}
}

func TestIAMCredentialsAuthentication(t *testing.T) {
	f := newFake(t)
	expiring := f.token(emptySA)
	req := &credentialspb.GenerateAccessTokenRequest{Name: saName(bucketSA), Scope: []string{identity.CloudPlatform}}
	if _, err := f.iamClient(t, "ya29.fake.unknown").GenerateAccessToken(context.Background(), req); httpCode(err) != 401 {
		t.Errorf("GenerateAccessToken(unknown token) = %v; want 401", err)
	}
	f.Clock.Advance(61 * time.Minute)
	if _, err := f.iamClient(t, expiring).GenerateAccessToken(context.Background(), req); httpCode(err) != 401 || !strings.Contains(err.Error(), "invalid authentication credentials") {
		t.Errorf("GenerateAccessToken(expired token) = %v; want 401 with Google's text", err)
	}
	// A down-scoped token cannot impersonate anything.
	boundary := &tokens.Boundary{Rules: []tokens.Rule{{Resource: "//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", Permissions: []string{"inRole:roles/storage.admin"}}}}
	down := f.Tokens.Issue(tokens.Token{Member: "serviceAccount:" + emptySA, Email: emptySA, Scopes: []string{identity.CloudPlatform}, Expiry: f.Clock.Now().Add(time.Hour), Boundary: boundary})
	if _, err := f.iamClient(t, down).GenerateAccessToken(context.Background(), req); httpCode(err) != 403 {
		t.Errorf("GenerateAccessToken(down-scoped token) = %v; want 403", err)
	}
	plain := f.token(emptySA)
	if _, err := f.iamClient(t, plain).GenerateAccessToken(context.Background(), req); err != nil {
		t.Errorf("GenerateAccessToken(plain token, same member) = %v; want success", err)
	}
	// A token without cloud-platform (or iam) scope is refused.
	narrow := f.token(emptySA, "https://www.googleapis.com/auth/devstorage.read_only")
	if _, err := f.iamClient(t, narrow).GenerateAccessToken(context.Background(), req); httpCode(err) != 403 || !strings.Contains(err.Error(), "insufficient authentication scopes") {
		t.Errorf("GenerateAccessToken(storage-only scope) = %v; want 403 insufficient scopes", err)
	}
}

func TestGenerateIDTokenAndSign(t *testing.T) {
	f := newFake(t)
	c := f.iamClient(t, f.token(emptySA))
	ctx := context.Background()
	idResp, err := c.GenerateIdToken(ctx, &credentialspb.GenerateIdTokenRequest{Name: saName(bucketSA), Audience: "https://gcpconn.example", IncludeEmail: true})
	if err != nil {
		t.Fatalf("GenerateIdToken = %v", err)
	}
	claims := verifyWithJWKS(t, f.Svc.JWKSURL(), idResp.GetToken())
	if claims["email"] != bucketSA || claims["aud"] != "https://gcpconn.example" {
		t.Errorf("id token claims = %v; want email %s, aud https://gcpconn.example", claims, bucketSA)
	}
	if _, err := c.GenerateIdToken(ctx, &credentialspb.GenerateIdTokenRequest{Name: saName(bucketSA)}); httpCode(err) != 400 {
		t.Errorf("GenerateIdToken(no audience) = %v; want 400", err)
	}

	payload, _ := json.Marshal(map[string]any{"sub": "x", "aud": "y"})
	jwtResp, err := c.SignJwt(ctx, &credentialspb.SignJwtRequest{Name: saName(bucketSA), Payload: string(payload)})
	if err != nil {
		t.Fatalf("SignJwt = %v", err)
	}
	signed := verifyWithJWKS(t, f.URL+"/service_accounts/v1/jwk/"+bucketSA, jwtResp.GetSignedJwt())
	if signed["sub"] != "x" || signed["exp"] == nil {
		t.Errorf("signed claims = %v; want sub x and an added exp", signed)
	}
	far, _ := json.Marshal(map[string]any{"exp": time.Now().Add(13 * time.Hour).Unix()})
	if _, err := c.SignJwt(ctx, &credentialspb.SignJwtRequest{Name: saName(bucketSA), Payload: string(far)}); httpCode(err) != 400 {
		t.Errorf("SignJwt(exp in 13h) = %v; want 400", err)
	}
	blob, err := c.SignBlob(ctx, &credentialspb.SignBlobRequest{Name: saName(bucketSA), Payload: []byte("hello")})
	if err != nil || blob.GetKeyId() == "" || len(blob.GetSignedBlob()) != 256 {
		t.Errorf("SignBlob = %v, %v; want a 2048-bit signature with a key id", blob, err)
	}
	if _, err := c.SignBlob(ctx, &credentialspb.SignBlobRequest{Name: saName(adminSA), Payload: []byte("x")}); httpCode(err) != 403 {
		t.Errorf("SignBlob(no permission) = %v; want 403", err)
	}
}

func TestIAMCredentialsFaults(t *testing.T) {
	f := newFake(t)
	c := f.iamClient(t, f.token(emptySA))
	req := &credentialspb.GenerateAccessTokenRequest{Name: saName(bucketSA), Scope: []string{identity.CloudPlatform}}
	ctx := context.Background()

	// One 503: the client retries (it retries 503/504) and succeeds; two calls counted.
	f.Faults.Set("iamcredentials.generateAccessToken", faults.Fault{Status: 503, Times: 1})
	if _, err := c.GenerateAccessToken(ctx, req); err != nil {
		t.Errorf("GenerateAccessToken after one 503 = %v; want success on retry", err)
	}
	if n := f.Faults.Count("iamcredentials.generateAccessToken"); n != 2 {
		t.Errorf("Count = %d; want 2 (the 503 and the retry)", n)
	}
	// 429 is not retried by this client: the caller sees RESOURCE_EXHAUSTED.
	f.Faults.Set("iamcredentials.*", faults.Fault{Status: 429})
	if _, err := c.GenerateAccessToken(ctx, req); httpCode(err) != 429 {
		t.Errorf("GenerateAccessToken with a 429 fault = %v; want 429", err)
	}
	f.Faults.Set("iamcredentials.*", faults.Fault{})
	// Latency beyond the caller's deadline: the call fails with the deadline.
	f.Faults.Set("iamcredentials.generateAccessToken", faults.Fault{Latency: time.Minute})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.GenerateAccessToken(short, req); err == nil || !errors.Is(short.Err(), context.DeadlineExceeded) {
		t.Errorf("GenerateAccessToken with a 1m latency fault and a 50ms deadline = %v; want the deadline", err)
	}
	f.Faults.Reset()
	if _, err := c.GenerateAccessToken(ctx, req); err != nil {
		t.Errorf("GenerateAccessToken after Reset = %v; want success", err)
	}
	if n := f.Faults.Count("iamcredentials.generateAccessToken"); n != 1 {
		t.Errorf("Count after Reset and one call = %d; want 1", n)
	}
}

// BenchmarkGenerateAccessToken measures generateAccessToken through the real REST
// client over loopback HTTP.
func BenchmarkGenerateAccessToken(b *testing.B) {
	f := newFake(b)
	c, err := credentials.NewIamCredentialsRESTClient(context.Background(),
		option.WithEndpoint(f.URL),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: f.token(emptySA)})))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &credentialspb.GenerateAccessTokenRequest{Name: saName(bucketSA), Scope: []string{identity.CloudPlatform}, Lifetime: durationpb.New(15 * time.Minute)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GenerateAccessToken(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
