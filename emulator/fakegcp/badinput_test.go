package fakegcp_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
)

// TestMalformedRequestsAreNot5xx sends malformed and hostile requests, with a valid
// owner token, to every resource service: each must answer a 4xx in Google's shape,
// never a 5xx or a dropped connection (a panic).
func TestMalformedRequestsAreNot5xx(t *testing.T) {
	st := startStack(t, fakegcp.Options{})
	tok, err := st.keyTokenSource(t, adminSA).Token()
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	offset := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	deep := strings.Repeat("(", 100000) + "true" + strings.Repeat(")", 100000)
	tests := []struct {
		service, method, path, body string
	}{
		{"GCPCONN_ENDPOINT_ARTIFACTREGISTRY", "GET", "/v1/projects/zenml-core/locations/-/repositories?pageToken=" + offset("offset:-1"), ""},
		{"GCPCONN_ENDPOINT_ARTIFACTREGISTRY", "GET", "/v1/projects/zenml-core/locations/-/repositories?pageToken=" + offset("offset:99999999999999999999"), ""},
		{"GCPCONN_ENDPOINT_ARTIFACTREGISTRY", "GET", "/v1/projects/zenml-core/locations/-/repositories?pageSize=-3", ""},
		{"GCPCONN_ENDPOINT_ARTIFACTREGISTRY", "GET", "/v1/projects", ""},
		{"GCPCONN_ENDPOINT_ARTIFACTREGISTRY", "POST", "/v1/projects/zenml-core/locations", ""},
		{"GCPCONN_ENDPOINT_SECRETMANAGER", "GET", "/v1/projects/zenml-core/secrets?pageToken=" + offset("offset:-1"), ""},
		{"GCPCONN_ENDPOINT_SECRETMANAGER", "POST", "/v1/projects/zenml-core/secrets?secretId=s1", "{not json"},
		{"GCPCONN_ENDPOINT_SECRETMANAGER", "GET", "/v1/projects/zenml-core/secrets/nope/versions/-1:access", ""},
		{"GCPCONN_ENDPOINT_SECRETMANAGER", "GET", "/v1/projects/zenml-core/secrets?filter=%3D%3D%3D", ""},
		{"GCPCONN_ENDPOINT_CONTAINER", "GET", "/v1/projects/zenml-core/locations/-/clusters/x/y/z", ""},
		{"GCPCONN_ENDPOINT_CONTAINER", "GET", "/v1/projects/nope/zones/-/clusters/x", ""},
		{"GCPCONN_ENDPOINT_RESOURCEMANAGER", "POST", "/v1/projects/zenml-core:testIamPermissions", `{"permissions":["a.b"]}`},
		{"GCPCONN_ENDPOINT_RESOURCEMANAGER", "POST", "/v1/projects/zenml-core:testIamPermissions", "[1,2"},
		{"GCPCONN_ENDPOINT_RESOURCEMANAGER", "GET", "/v1/projects?filter=name:x", ""},
		{"GCPCONN_ENDPOINT_STORAGE", "GET", "/storage/v1/b/%2F%2E%2E/o/%00", ""},
		{"GCPCONN_ENDPOINT_STORAGE", "GET", "/storage/v1/b?project=", ""},
		{"GCPCONN_ENDPOINT_STORAGE", "POST", "/upload/storage/v1/b/zenml-bucket-sl/o?uploadType=multipart", "--x\r\n"},
		{"GCPCONN_ENDPOINT_STORAGE", "PUT", "/upload/storage/v1/b/zenml-bucket-sl/o?upload_id=nope", ""},
		{"GCPCONN_ENDPOINT_STORAGE", "GET", "/storage/v1/b/zenml-bucket-sl/iam/testPermissions", ""},
		{"GCPCONN_ENDPOINT_STS", "POST", "/v1/token", "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&requested_token_type=urn:ietf:params:oauth:token-type:access_token&subject_token_type=urn:ietf:params:oauth:token-type:access_token&subject_token=" + tok.AccessToken +
			`&options={"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl","availablePermissions":["inRole:roles/storage.objectViewer"],"availabilityCondition":{"expression":"` + deep + `"}}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.method+" "+tt.path[:min(len(tt.path), 80)], func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), tt.method, st.env[tt.service]+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			if tt.service == "GCPCONN_ENDPOINT_STS" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v (a dropped connection is a panic in the handler)", tt.method, tt.path, err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s %s = %d; want a 4xx", tt.method, tt.path, resp.StatusCode)
			}
		})
	}
}
