package httpapi

import (
	"net/http"
	"sync"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/jsonenc"
)

// The mint answer is written on every mint, so it is appended by hand rather than through
// encoding/json's reflection: the same bytes json.Marshal writes for a wire.Credential
// (TestCredentialAnswerMatchesEncodingJSON, FuzzCredentialAnswer), into a pooled buffer.

// Header values set on every answer, shared (net/http does not modify them).
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noSniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
	noCache         = []string{"no-cache"}
)

var answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeCredential answers a minted credential with 200.
func writeCredential(w http.ResponseWriter, c *wire.Credential) {
	bp := answerPool.Get().(*[]byte)
	b, ok := appendCredential((*bp)[:0], c)
	if !ok {
		cc := *c                         // a copy, so that c does not escape to the heap on every mint
		writeJSON(w, http.StatusOK, &cc) // an expiry outside years 0-9999: encoding/json's error answer
		return
	}
	h := w.Header()
	h["Pragma"] = noCache
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	if cap(b) <= 16<<10 {
		*bp = b[:0]
		answerPool.Put(bp)
	}
}

// appendCredential appends c as json.Marshal writes it; false when its expiry cannot be
// written (a year outside 0-9999).
func appendCredential(b []byte, c *wire.Credential) ([]byte, bool) {
	str := func(key, v string) { b = jsonenc.String(append(b, key...), v, true) }
	str(`{"access_token":`, c.AccessToken)
	str(`,"token_type":`, c.TokenType)
	b = append(b, `,"expires_at":`...)
	b, ok := jsonenc.Time(b, c.ExpiresAt)
	if !ok {
		return b, false
	}
	b = jsonenc.Int(append(b, `,"expires_in":`...), c.ExpiresIn)
	str(`,"project_id":`, c.ProjectID)
	str(`,"resource_type":`, c.ResourceType)
	str(`,"resource_id":`, c.ResourceID)
	b = jsonenc.Int(append(b, `,"lifetime":{"requested":`...), c.Lifetime.Requested)
	b = jsonenc.Int(append(b, `,"applied":`...), c.Lifetime.Applied)
	if c.Lifetime.Reason != "" {
		str(`,"reason":`, c.Lifetime.Reason)
	}
	b = jsonenc.Bool(append(b, `},"downscoped":`...), c.Downscoped)
	if d := c.Docker; d != nil {
		str(`,"docker":{"registry":`, d.Registry)
		str(`,"username":`, d.Username)
		str(`,"password":`, d.Password)
		b = append(b, '}')
	}
	if k := c.Kubernetes; k != nil {
		str(`,"kubernetes":{"cluster":`, k.Cluster)
		str(`,"server":`, k.Server)
		if k.CertificateAuthority != "" {
			str(`,"certificate_authority":`, k.CertificateAuthority)
		}
		str(`,"kubeconfig":`, k.Kubeconfig)
		b = append(b, '}')
	}
	if c.CredentialsJSON != "" {
		str(`,"credentials_json":`, c.CredentialsJSON)
	}
	if c.Warning != "" {
		str(`,"warning":`, c.Warning)
	}
	return append(b, '}'), true
}
