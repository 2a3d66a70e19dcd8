package store

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// tokenPrefix marks page tokens made by this package, so that foreign strings are refused.
const tokenPrefix = "n1:"

// encodeToken returns the page token that continues a listing after the connector named
// last.
func encodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + last))
}

// decodeToken returns the name a page token continues after; "" for the first page.
func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), tokenPrefix) || len(b) == len(tokenPrefix) {
		return "", &connector.Error{Kind: connector.ErrInvalid, Field: "page_token", Message: "page_token is not a token returned by a previous listing"}
	}
	return string(b[len(tokenPrefix):]), nil
}

// pageSize applies the defaults and the cap of connector.Page.Size.
func pageSize(n int) int {
	switch {
	case n <= 0:
		return connector.DefaultPageSize
	case n > connector.MaxPageSize:
		return connector.MaxPageSize
	}
	return n
}

// matches reports whether c passes every condition of f.
func matches(c *connector.Connector, f connector.Filter) bool {
	if f.Name != "" && c.Name != f.Name {
		return false
	}
	if f.AuthMethod != "" && c.AuthMethod != f.AuthMethod {
		return false
	}
	if f.ResourceType != "" && !slices.Contains(c.ResourceTypes, f.ResourceType) {
		return false
	}
	return matchesLabels(c.Labels, f.Labels)
}

// matchesLabels reports whether labels has every key of want, with the wanted value when it
// is not "".
func matchesLabels(labels, want map[string]string) bool {
	for k, v := range want {
		got, ok := labels[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}
