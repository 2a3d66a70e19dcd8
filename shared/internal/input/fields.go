package input

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The field checks below return nil for an acceptable value, or an error whose message says
// which rule the value breaks, phrased to follow a subject ("invalid label key "x": " + err,
// "description " + err). The messages never quote the value: callers that may echo it do so
// with Quote.

// LabelKey checks a Kubernetes-style label key: a label name, optionally after a DNS subdomain
// prefix and "/" (example.com/team).
func LabelKey(k string) error {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		return LabelName(k)
	}
	if prefix == "" || len(prefix) > 253 {
		return errors.New("the prefix before / must be a DNS subdomain of 1 to 253 characters")
	}
	if !DNSLabels(strings.Split(prefix, ".")) {
		return errors.New("the prefix before / must be a lowercase DNS subdomain such as example.com")
	}
	return LabelName(name)
}

// LabelName checks a Kubernetes-style label name (or non-empty value): 1 to 63 letters,
// digits, '-', '_' and '.', starting and ending with a letter or digit.
func LabelName(s string) error {
	alnum := func(c byte) bool { return IsLowerDigit(c) || ('A' <= c && c <= 'Z') }
	switch {
	case s == "":
		return errors.New("the name is empty")
	case len(s) > 63:
		return errors.New("it is longer than 63 characters")
	case !alnum(s[0]) || !alnum(s[len(s)-1]):
		return errors.New("it must start and end with a letter or digit")
	case !All(s, func(c byte) bool { return alnum(c) || c == '-' || c == '_' || c == '.' }):
		return errors.New("it may contain only letters, digits, '-', '_' and '.'")
	}
	return nil
}

// Email checks an email address: one @, a local part of 1 to 64 characters (letters, digits
// and !#$%&'*+/=?^_`{|}~.- with no leading, trailing or double dot), and a DNS domain of at
// least two labels; at most 254 characters in all.
func Email(s string) error {
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case len(s) > 254:
		return errors.New("it is longer than 254 characters")
	case !ok || strings.Contains(domain, "@"):
		return errors.New("it must have exactly one @")
	case local == "" || len(local) > 64:
		return errors.New("the part before @ must be 1 to 64 characters")
	case !All(local, func(c byte) bool {
		return IsLowerDigit(c) || ('A' <= c && c <= 'Z') || strings.IndexByte("!#$%&'*+/=?^_`{|}~.-", c) >= 0
	}):
		return errors.New("the part before @ has a character that is not allowed")
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return errors.New("the part before @ must not start or end with a dot or have two in a row")
	}
	labels := strings.Split(strings.ToLower(domain), ".")
	if len(labels) < 2 {
		return errors.New("the domain must have a dot, as in example.com")
	}
	if !DNSLabels(labels) {
		return errors.New("the domain must be a DNS name such as example.com")
	}
	return nil
}

// Text checks free text shown to people (a description): at most maxBytes bytes of valid
// UTF-8, without control characters other than newline and tab.
func Text(s string, maxBytes int) error {
	switch {
	case len(s) > maxBytes:
		return fmt.Errorf("is %d bytes; at most %d are accepted", len(s), maxBytes)
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return errors.New("must not contain control characters other than newline and tab")
	}
	return nil
}
