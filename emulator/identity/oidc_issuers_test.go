package identity_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAdditionalIssuer: an issuer created over the admin API serves discovery and a JWKS with
// an RS256 and an ES256 key; its tokens carry GitHub-Actions-shaped claims and verify with
// those keys; every broken variant is broken the way it says.
func TestAdditionalIssuer(t *testing.T) {
	f := newFake(t)
	var created struct{ Issuer string }
	getJSON(t, "POST", f.URL+"/admin/issuers/ci", "", &created)
	if created.Issuer != f.URL+"/issuers/ci" {
		t.Fatalf("issuer = %q", created.Issuer)
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, "GET", created.Issuer+"/.well-known/openid-configuration", "", &disc)
	if disc.Issuer != created.Issuer || disc.JWKSURI != created.Issuer+"/jwks" {
		t.Fatalf("discovery = %+v", disc)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	getJSON(t, "GET", disc.JWKSURI, "", &set)
	keys := map[string]any{}
	for _, k := range set.Keys {
		d := func(s string) []byte { b, _ := base64.RawURLEncoding.DecodeString(s); return b }
		switch k["kty"] {
		case "RSA":
			keys[k["kid"]] = &rsa.PublicKey{N: new(big.Int).SetBytes(d(k["n"])), E: int(new(big.Int).SetBytes(d(k["e"])).Int64())}
		case "EC":
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, d(k["x"])...), d(k["y"])...))
			if err != nil {
				t.Fatalf("EC key: %v", err)
			}
			keys[k["kid"]] = pub
		}
	}
	if len(keys) != 2 {
		t.Fatalf("JWKS = %v; want an RSA and an EC key", set)
	}

	mint := func(body string) (hdr map[string]any, claims map[string]any, valid bool) {
		t.Helper()
		var out struct{ Token, Subject string }
		getJSON(t, "POST", f.URL+"/admin/issuers/ci/token", body, &out)
		parts := strings.Split(out.Token, ".")
		if len(parts) != 3 {
			t.Fatalf("token %q is not a JWS", out.Token)
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[0])
		_ = json.Unmarshal(b, &hdr)
		b, _ = base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(b, &claims)
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		kid, _ := hdr["kid"].(string)
		switch k := keys[kid].(type) {
		case *rsa.PublicKey:
			valid = hdr["alg"] == "RS256" && rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
		case *ecdsa.PublicKey:
			valid = hdr["alg"] == "ES256" && len(sig) == 64 &&
				ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}
		return hdr, claims, valid
	}
	now := time.Now().Unix()
	_, c, ok := mint(`{"audience":"https://gcpconn.test"}`)
	if !ok || c["sub"] != "repo:acme/pipelines:ref:refs/heads/main" || c["repository_owner"] != "acme" || c["iss"] != created.Issuer ||
		c["aud"] != "https://gcpconn.test" || c["workflow"] != "deploy" {
		t.Errorf("default token valid=%v claims=%v", ok, c)
	}
	_, c, ok = mint(`{"audience":"a","alg":"ES256","repository":"acme/infra","environment":"prod","claims":{"job_workflow_ref":"x","workflow":null}}`)
	if !ok || c["sub"] != "repo:acme/infra:environment:prod" || c["environment"] != "prod" || c["job_workflow_ref"] != "x" || c["workflow"] != nil {
		t.Errorf("ES256 environment token valid=%v claims=%v", ok, c)
	}
	_, c, ok = mint(`{"audience":"a","variant":"expired"}`)
	if !ok || int64(c["exp"].(float64)) >= now {
		t.Errorf("expired variant valid=%v exp=%v", ok, c["exp"])
	}
	if _, c, ok = mint(`{"audience":"a","variant":"wrong-audience"}`); !ok || c["aud"] == "a" {
		t.Errorf("wrong-audience variant valid=%v aud=%v", ok, c["aud"])
	}
	if _, c, ok = mint(`{"audience":"a","variant":"wrong-issuer"}`); !ok || c["iss"] == created.Issuer {
		t.Errorf("wrong-issuer variant valid=%v iss=%v", ok, c["iss"])
	}
	if h, _, ok := mint(`{"audience":"a","variant":"wrong-key"}`); ok || keys[h["kid"].(string)] == nil {
		t.Errorf("wrong-key variant verifies (%v) or has an unknown kid %v", ok, h)
	}
	if h, _, _ := mint(`{"audience":"a","variant":"unknown-kid"}`); keys[h["kid"].(string)] != nil {
		t.Errorf("unknown-kid variant has a published kid %v", h)
	}
	if h, _, _ := mint(`{"audience":"a","variant":"alg-none"}`); h["alg"] != "none" {
		t.Errorf("alg-none header = %v", h)
	}
	if h, _, _ := mint(`{"audience":"a","variant":"hs256-public-key"}`); h["alg"] != "HS256" {
		t.Errorf("hs256 header = %v", h)
	}
	for _, bad := range []string{`{}`, `{"audience":"a","variant":"nope"}`, `{"audience":"a","alg":"HS256"}`} {
		resp, err := http.Post(f.URL+"/admin/issuers/ci/token", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("token %s = %d; want 400", bad, resp.StatusCode)
		}
	}
	resp, err := http.Get(f.URL + "/issuers/nope/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("JWKS of an unknown issuer = %d; want 404", resp.StatusCode)
	}
}

func getJSON(t *testing.T, method, u, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s = %d", method, u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
