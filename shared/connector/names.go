package connector

import (
	"fmt"

	"github.com/gcpconn/gcpconn/shared/internal/input"
)

// maxNameLen is the longest connector name, in bytes.
const maxNameLen = 63

// validateName reports whether name is an acceptable connector name. A name is DNS-label-like,
// so it is safe in URLs, labels, log fields and shell commands: 1 to maxNameLen characters,
// lowercase ASCII letters, digits and hyphens, starting with a letter and ending with a letter
// or a digit. It may not be 32 hexadecimal characters, the form of connector ids, so that a
// reference (name or id) is never ambiguous. The error is ErrInvalid for the field "name" and
// says which rule failed.
func validateName(name string) error {
	var why string
	switch {
	case name == "":
		why = "the name is empty"
	case len(name) > maxNameLen:
		why = fmt.Sprintf("it is %d bytes long; the limit is %d", len(name), maxNameLen)
	case !input.IsLower(name[0]):
		why = "it must start with a lowercase letter"
	case !input.IsLowerDigit(name[len(name)-1]):
		why = "it must end with a lowercase letter or a digit"
	case !input.All(name, input.IsLowerDigitHyphen):
		why = "it may contain only lowercase letters (a-z), digits and hyphens"
	case len(name) == 32 && input.All(name, isHexLower):
		why = "32 hexadecimal characters is the form of connector ids"
	default:
		return nil
	}
	return FieldErrorf("name", "invalid connector name %s: %s", input.Quote(name), why)
}

func isHexLower(c byte) bool { return input.IsDigit(c) || ('a' <= c && c <= 'f') }
