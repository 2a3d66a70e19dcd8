package callerauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"slices"
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
	header  header
	payload []byte // decoded claims JSON
	signed  string // header.payload, the signing input
	sig     []byte
}

type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// parseJWS splits raw into its parts and decodes the header and the payload; it checks
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
	if err := decodeSegment(parts[0], &t.header); err != nil {
		return nil, deny("token header is malformed")
	}
	if err := t.checkAlg(algRS256, algES256); err != nil {
		return nil, err
	}
	if t.header.Crit != nil {
		return nil, deny("token header has crit extensions, which are not supported")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !json.Valid(payload) {
		return nil, deny("token claims are malformed")
	}
	if err := noDuplicateKeys(payload); err != nil {
		return nil, deny("token claims are malformed: %v", err)
	}
	t.payload = payload
	t.signed = parts[0] + "." + parts[1]
	if t.sig, err = base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(t.sig) == 0 {
		return nil, deny("token signature is malformed")
	}
	return &t, nil
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

// noDuplicateKeys refuses JSON with an object that names a key twice: parsers disagree on
// which value wins, so a signed document with duplicates means different things to
// different readers.
func noDuplicateKeys(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errors.New("invalid JSON")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, isKey := tok.(string); isKey && top != nil && top.obj && top.key {
			if top.seen[k] {
				return errors.New("claim " + quoteClip(k) + " appears twice")
			}
			top.seen[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, seen: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].key = true
			}
		default:
			if top != nil && top.obj {
				top.key = true
			}
		}
	}
}

// quoteClip quotes s for a message, cut to 64 bytes.
func quoteClip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// timeClaims are the registered time claims, seconds since the epoch.
type timeClaims struct {
	Exp *json.Number `json:"exp"`
	Iat *json.Number `json:"iat"`
	Nbf *json.Number `json:"nbf"`
}

// check verifies exp (required), iat (required when requireIat) and nbf against now with
// skew, and returns exp and iat (zero when absent).
func (c timeClaims) check(now time.Time, skew time.Duration, requireIat bool) (exp, iat time.Time, err error) {
	exp, ok := unix(c.Exp)
	if !ok {
		return exp, iat, deny("token has no valid exp claim")
	}
	if !now.Before(exp.Add(skew)) {
		return exp, iat, deny("token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	iat, ok = unix(c.Iat)
	if (c.Iat != nil || requireIat) && !ok {
		return exp, iat, deny("token has no valid iat claim")
	}
	if ok && iat.After(now.Add(skew)) {
		return exp, iat, deny("token is issued in the future")
	}
	if nbf, ok := unix(c.Nbf); c.Nbf != nil && (!ok || nbf.After(now.Add(skew))) {
		return exp, iat, deny("token is not valid yet")
	}
	return exp, iat, nil
}

func unix(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// audience is "aud": a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = ss
	return nil
}
