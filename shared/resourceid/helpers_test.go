package resourceid

import "errors"

// What a test expects of an error: a refusal (invalid input) or an unmatched cluster.
const (
	invalid   = "invalid"
	unmatched = "unmatched"
)

// kindOf says what err is: "" for nil, invalid or unmatched for an *Error, and "not an
// *Error" for anything else, which no function of this package may return.
func kindOf(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case !errors.As(err, &e):
		return "not an *Error"
	case e.Unmatched:
		return unmatched
	}
	return invalid
}

func fieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func messageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}
