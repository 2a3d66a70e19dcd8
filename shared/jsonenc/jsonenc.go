// Package jsonenc appends JSON values to a byte slice the way encoding/json writes them,
// without reflection and without allocating beyond the slice's growth. It is for the few
// documents written on every request (the mint answer, log lines), whose shape is known; the
// rest of gcpconn uses encoding/json.
//
// Strings are escaped as encoding/json escapes them: quotes, backslashes and control
// characters; invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped; and, when asked
// (as json.Marshal does), '<', '>' and '&'. TestStringMatchesEncodingJSON and FuzzString
// hold the output to json.Marshal's byte for byte.
package jsonenc

import (
	"strconv"
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe[b] reports whether ASCII byte b is written as itself inside a JSON string; htmlSafe
// also refuses '<', '>' and '&'.
var safe, htmlSafe = func() (s, h [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		s[b] = b != '"' && b != '\\'
		h[b] = s[b] && b != '<' && b != '>' && b != '&'
	}
	return s, h
}()

// String appends s as a quoted JSON string. escapeHTML escapes '<', '>' and '&' as \u003c,
// \u003e and \u0026, as json.Marshal does; slog's JSON handler does not.
func String(dst []byte, s string, escapeHTML bool) []byte {
	dst = append(dst, '"')
	return append(StringContent(dst, s, escapeHTML), '"')
}

// StringContent appends s escaped as String does, without the quotes: for a JSON string
// written in pieces.
func StringContent(dst []byte, s string, escapeHTML bool) []byte {
	set := &safe
	if escapeHTML {
		set = &htmlSafe
	}
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if set[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, b)
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// appendEscapedByte appends the escape of an ASCII byte that is not written as itself.
func appendEscapedByte(dst []byte, b byte) []byte {
	switch b {
	case '\\', '"':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
}

// Key appends s as an object member's name followed by ':'.
func Key(dst []byte, s string, escapeHTML bool) []byte {
	return append(String(dst, s, escapeHTML), ':')
}

// Int appends n.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Bool appends true or false.
func Bool(dst []byte, v bool) []byte { return strconv.AppendBool(dst, v) }

// Time appends t as time.Time's MarshalJSON does: quoted RFC 3339 with nanoseconds, trailing
// zeros dropped. It reports false, appending nothing, when t's year is outside [0,9999]
// (MarshalJSON's error).
func Time(dst []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), true
}
