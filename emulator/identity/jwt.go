package identity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// jwtHeader is the JOSE header of a compact JWS.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

// audience is a JWT "aud": a string or a list of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud must be a string or a list of strings")
	}
	*a = many
	return nil
}

func (a audience) contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// numericDate is a JWT time: seconds since the epoch, integer or not.
type numericDate int64

func (n *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("time claims must be numbers")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e12 {
		return errors.New("time claim out of range")
	}
	*n = numericDate(f)
	return nil
}

// jwtClaims are the registered and Google-specific claims the fake reads.
type jwtClaims struct {
	Iss            string      `json:"iss"`
	Sub            string      `json:"sub"`
	Aud            audience    `json:"aud"`
	Exp            numericDate `json:"exp"`
	Iat            numericDate `json:"iat"`
	Scope          string      `json:"scope"`
	TargetAudience string      `json:"target_audience"`
}

// parsedJWT is a compact JWS split into its parts; it is not verified yet.
type parsedJWT struct {
	header       jwtHeader
	claims       jwtClaims
	rawClaims    []byte
	signingInput string
	sig          []byte
}

var errMalformedJWT = errors.New("malformed JWT")

func parseJWT(s string) (*parsedJWT, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(s) > 64<<10 {
		return nil, errMalformedJWT
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errMalformedJWT
	}
	p := &parsedJWT{rawClaims: cb, signingInput: parts[0] + "." + parts[1], sig: sig}
	if err := json.Unmarshal(hb, &p.header); err != nil {
		return nil, errMalformedJWT
	}
	if err := json.Unmarshal(cb, &p.claims); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedJWT, err)
	}
	return p, nil
}

// verify checks an RS256 signature with pub.
func (p *parsedJWT) verify(pub *rsa.PublicKey) error {
	if p.header.Alg != "RS256" {
		return fmt.Errorf("unsupported alg %q", p.header.Alg)
	}
	sum := sha256.Sum256([]byte(p.signingInput))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
}

// signJWT returns a compact RS256 JWS of claims (a struct or map) with header kid.
func signJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("marshal claims: %w", err)
	}
	return signJWTBytes(key, kid, cb)
}

func signJWTBytes(key *rsa.PrivateKey, kid string, claims []byte) (string, error) {
	hb, err := json.Marshal(jwtHeader{Alg: "RS256", Kid: kid, Typ: "JWT"})
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	buf.WriteString(base64.RawURLEncoding.EncodeToString(hb))
	buf.WriteByte('.')
	buf.WriteString(base64.RawURLEncoding.EncodeToString(claims))
	sig, err := signRS256(key, buf.Bytes())
	if err != nil {
		return "", err
	}
	buf.WriteByte('.')
	buf.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return buf.String(), nil
}

func signRS256(key *rsa.PrivateKey, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// jwk is one RSA public key in JWKS form.
type jwk struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func publicJWK(pub *rsa.PublicKey, kid string) jwk {
	e := big(pub.E)
	return jwk{Kty: "RSA", Alg: "RS256", Use: "sig", Kid: kid,
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(e)}
}

// big encodes a small positive int as minimal big-endian bytes.
func big(v int) []byte {
	var out []byte
	for v > 0 {
		out = append([]byte{byte(v & 0xff)}, out...)
		v >>= 8
	}
	return out
}
