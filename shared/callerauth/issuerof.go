package callerauth

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gcpconn/gcpconn/shared/principal"
)

// Issuer names of IssuerOf for requests whose token names no issuer gcpconn knows.
const (
	IssuerNone      = "none"         // no bearer token
	IssuerMalformed = "malformed"    // not a JWT, or no readable "iss"
	IssuerUntrusted = labelUntrusted // an issuer that is neither Google nor a trusted one
)

// IssuerOf names the issuer that the bearer token of r claims, without verifying it, for the
// logs and metrics of refused callers: principal.GoogleIssuer, a trusted issuer's name,
// or IssuerNone, IssuerMalformed or IssuerUntrusted. The answer is one of a fixed, small set
// (never the token's own text), so a metric may use it as a label.
func (v *Verifier) IssuerOf(r *http.Request) string {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return IssuerNone
	}
	if len(tok) > maxTokenBytes {
		return IssuerMalformed
	}
	t, err := parseJWS(tok)
	if err != nil {
		return IssuerMalformed
	}
	iss, ok := stringClaim(t.claims, "iss")
	if !ok || iss == "" {
		return IssuerMalformed
	}
	if slices.Contains(v.googleIssuers, iss) {
		return principal.GoogleIssuer
	}
	if f, ok := v.federated[iss]; ok {
		return f.is.Name
	}
	return IssuerUntrusted
}
