// Package input holds the small checks that the parsers of untrusted input (shared/resourceid,
// shared/credjson) and the core (shared/connector) share: ASCII character classes, a DNS label
// check, Quote, which echoes input safely in an error message, and the generic field checks
// (label keys and names, email addresses, free text) that return an error saying which rule a
// value breaks.
package input

import (
	"fmt"
	"unicode/utf8"
)

// Quote quotes s for an error message: control and invalid bytes escaped, long inputs cut (on
// a rune boundary) with the full length noted.
func Quote(s string) string {
	const keep = 100
	if len(s) <= keep+20 {
		return fmt.Sprintf("%q", s)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:cut], len(s))
}

// Character classes of ASCII bytes.
func IsLower(c byte) bool            { return 'a' <= c && c <= 'z' }
func IsDigit(c byte) bool            { return '0' <= c && c <= '9' }
func IsLowerDigit(c byte) bool       { return IsLower(c) || IsDigit(c) }
func IsLowerDigitHyphen(c byte) bool { return IsLowerDigit(c) || c == '-' }
func IsPrintableASCII(c byte) bool   { return c > ' ' && c < 0x7f }

// DNSLabels reports whether every label is a lowercase DNS label: 1 to 63 lowercase letters,
// digits and hyphens, neither starting nor ending with a hyphen.
func DNSLabels(labels []string) bool {
	for _, l := range labels {
		if l == "" || len(l) > 63 || !All(l, IsLowerDigitHyphen) || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return true
}

// All reports whether every byte of s is ok.
func All(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
