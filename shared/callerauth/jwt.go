package callerauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature algorithms. Google signs with RS256 only; trusted issuers may use RS256 or ES256.
// Everything else ("none", HS256 and the other HMACs, which would let a public key be used as
// a shared secret, PS*, EdDSA) is refused before any key is looked at.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// Size limits of a token's parts, checked before anything is decoded.
const (
	maxTokenBytes  = 16 << 10
	maxHeaderBytes = 1 << 10
)

// jws is a compact JWS split into its parts, signature not yet checked.
type jws struct {
	header header
	claims map[string]any // the payload, parsed exactly (strictjson.go)
	signed string         // header.payload, the signing input
	sig    []byte
}

type header struct {
	Alg string
	Kid string
}

// keyHeaders are JOSE header parameters that carry or point at a key. gcpconn never uses a
// key from a token, so a token that offers one is refused rather than silently read another
// way by another verifier.
var keyHeaders = []string{"jku", "jwk", "x5u", "x5c"}

// parseJWS splits raw into its parts and parses the header and the claims exactly; it checks
// sizes and shape only. The messages name what is wrong, never the token.
func parseJWS(raw string) (*jws, error) {
	if len(raw) > maxTokenBytes {
		return nil, deny("token is longer than %d bytes", maxTokenBytes)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, deny("token is not a JWT (three base64url parts separated by dots)")
	}
	if len(parts[0]) > maxHeaderBytes {
		return nil, deny("token header is longer than %d bytes", maxHeaderBytes)
	}
	var t jws
	if err := t.parseHeader(parts[0]); err != nil {
		return nil, err
	}
	if err := t.checkAlg(algRS256, algES256); err != nil {
		return nil, err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, deny("token claims are malformed: not base64url")
	}
	if t.claims, err = parseJSONObject(payload); err != nil {
		return nil, deny("token claims are malformed: %v", err)
	}
	t.signed = parts[0] + "." + parts[1]
	if t.sig, err = base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(t.sig) == 0 {
		return nil, deny("token signature is malformed")
	}
	return &t, nil
}

// parseHeader reads the JOSE header exactly: alg a string, kid a string when present, no
// crit and no key of the token's own.
func (t *jws) parseHeader(seg string) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return deny("token header is malformed: not base64url")
	}
	h, err := parseJSONObject(b)
	if err != nil {
		return deny("token header is malformed: %v", strings.ReplaceAll(err.Error(), "claim", "parameter"))
	}
	alg, algOK := h["alg"].(string)
	kid, kidOK := h["kid"].(string)
	_, hasKid := h["kid"]
	switch {
	case !algOK:
		return deny("token header has no alg string")
	case hasKid && !kidOK:
		return deny("token header kid is not a string")
	case h["crit"] != nil:
		return deny("token header has crit extensions, which are not supported")
	}
	for _, k := range keyHeaders {
		if _, ok := h[k]; ok {
			return deny("token header carries %s: keys are only ever taken from the issuer's configured key set", k)
		}
	}
	t.header = header{Alg: alg, Kid: kid}
	return nil
}

// checkAlg refuses an algorithm that is not in allowed.
func (t *jws) checkAlg(allowed ...string) error {
	if !slices.Contains(allowed, t.header.Alg) {
		return deny("token algorithm %q is not accepted (want %s)", t.header.Alg, strings.Join(allowed, " or "))
	}
	return nil
}

// verify checks the signature with k, which must be a key for the token's algorithm.
func (t *jws) verify(k publicKey) error {
	if k.alg != "" && k.alg != t.header.Alg {
		return deny("token algorithm %s does not match its key's (%s)", t.header.Alg, k.alg)
	}
	digest := sha256.Sum256([]byte(t.signed))
	switch pub := k.key.(type) {
	case *rsa.PublicKey:
		if t.header.Alg == algRS256 && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], t.sig) == nil {
			return nil
		}
	case *ecdsa.PublicKey:
		// JWS ES256 signatures are r||s, 32 bytes each (RFC 7518 §3.4), not ASN.1.
		if t.header.Alg == algES256 && len(t.sig) == 64 {
			r, s := new(big.Int).SetBytes(t.sig[:32]), new(big.Int).SetBytes(t.sig[32:])
			if ecdsa.Verify(pub, digest[:], r, s) {
				return nil
			}
		}
	}
	return deny("token signature is invalid")
}

// noDuplicateKeys refuses JSON with an object that names a key twice, or two keys that
// differ only in case: parsers disagree on which value wins, so a document with duplicates
// means different things to different readers.
func noDuplicateKeys(b []byte) error {
	_, err := parseJSON(b)
	return err
}

// quoteClip quotes s for a message, cut to 64 bytes.
func quoteClip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// timeClaims reads exp (required), iat (required when requireIat) and nbf, which must be
// JSON numbers, checks them against now with skew, and returns exp and iat (zero when
// absent).
func timeClaims(claims map[string]any, now time.Time, skew time.Duration, requireIat bool) (exp, iat time.Time, err error) {
	e, ok, perr := numericDate(claims, "exp")
	if !ok || perr != nil {
		return exp, iat, deny("token has no valid exp claim%s", because(perr))
	}
	exp = time.Unix(e, 0)
	if !now.Before(exp.Add(skew)) {
		return exp, iat, deny("token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	i, ok, perr := numericDate(claims, "iat")
	if (ok || requireIat) && (!ok || perr != nil) {
		return exp, iat, deny("token has no valid iat claim%s", because(perr))
	}
	if ok {
		iat = time.Unix(i, 0)
	}
	if ok && iat.After(now.Add(skew)) {
		return exp, iat, deny("token is issued in the future")
	}
	n, ok, perr := numericDate(claims, "nbf")
	if perr != nil {
		return exp, iat, deny("token has no valid nbf claim%s", because(perr))
	}
	if ok && time.Unix(n, 0).After(now.Add(skew)) {
		return exp, iat, deny("token is not valid yet")
	}
	return exp, iat, nil
}

func because(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
