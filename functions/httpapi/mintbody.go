package httpapi

import (
	"github.com/gcpconn/gcpconn/functions/wire"
)

// A mint request body is decoded on every mint, and almost always looks the same: a small
// object of a few plain ASCII strings (connector, resource type and id, subject token) and
// perhaps a lifetime. decodeMintFast reads exactly those bodies, by hand, in one pass and one
// allocation; anything else (escapes, non-ASCII text, scopes, downscope, a repeated or unknown
// key, any malformed input) is left to the general decoder (exactjson), which therefore
// writes every refusal, with its message and field path. FuzzMintBodyFastPath checks that
// whatever the fast path accepts, the general decoder accepts with the same result.

// maxFastMintBody bounds the bodies decodeMintFast reads (the strings it returns share one
// copy of the body).
const maxFastMintBody = 2048

// decodeMintFast decodes body into m when it is a common mint request (see above) and
// reports whether it did; when it did not, m is untouched.
func decodeMintFast(body []byte, m *wire.MintRequest) bool {
	if len(body) > maxFastMintBody {
		return false
	}
	s := string(body) // the fields are substrings of this one copy
	var out wire.MintRequest
	var seen [5]bool
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return finishFast(s, i+1, m, &out)
	}
	for {
		key, j, ok := plainString(s, i)
		if !ok {
			return false
		}
		i = skipSpace(s, j)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		f := mintField(key)
		if f < 0 || seen[f] {
			return false
		}
		seen[f] = true
		if i, ok = fastValue(s, i, f, &out); !ok {
			return false
		}
		i = skipSpace(s, i)
		switch {
		case i < len(s) && s[i] == ',':
			i = skipSpace(s, i+1)
		case i < len(s) && s[i] == '}':
			return finishFast(s, i+1, m, &out)
		default:
			return false
		}
	}
}

// The members decodeMintFast reads, by index into its seen array.
const (
	fieldConnector = iota
	fieldResourceType
	fieldResourceID
	fieldSubjectToken
	fieldLifetime
)

func mintField(key string) int {
	switch key {
	case "connector":
		return fieldConnector
	case "resource_type":
		return fieldResourceType
	case "resource_id":
		return fieldResourceID
	case "subject_token":
		return fieldSubjectToken
	case "lifetime_seconds":
		return fieldLifetime
	}
	return -1
}

// fastValue reads member f's value at s[i:] into out, returning the index after it.
func fastValue(s string, i, f int, out *wire.MintRequest) (int, bool) {
	if f == fieldLifetime {
		n, j, ok := smallInt(s, i)
		out.LifetimeSeconds = n
		return j, ok
	}
	v, j, ok := plainString(s, i)
	switch f {
	case fieldConnector:
		out.Connector = v
	case fieldResourceType:
		out.ResourceType = v
	case fieldResourceID:
		out.ResourceID = v
	case fieldSubjectToken:
		out.SubjectToken = v
	}
	return j, ok
}

// finishFast accepts the object ending before s[i:] when only white space follows it.
func finishFast(s string, i int, m, out *wire.MintRequest) bool {
	if skipSpace(s, i) != len(s) {
		return false
	}
	*m = *out
	return true
}

// skipSpace returns the index of the first byte at or after i that is not JSON white space.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at s[i:] made of printable ASCII without escapes, returning
// its contents and the index after its closing quote.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", j, false
		}
	}
	return "", len(s), false
}

// smallInt reads a non-negative JSON integer of at most 9 digits (it fits any int) at s[i:].
func smallInt(s string, i int) (int, int, bool) {
	n, j := 0, i
	for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
		if j-i == 9 {
			return 0, j, false
		}
		n = n*10 + int(s[j]-'0')
	}
	switch {
	case j == i, j-i > 1 && s[i] == '0': // no digits, or a leading zero (invalid JSON)
		return 0, j, false
	case j < len(s) && (s[j] == '.' || s[j] == 'e' || s[j] == 'E'): // a fraction or an exponent
		return 0, j, false
	}
	return n, j, true
}
