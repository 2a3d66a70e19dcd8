// Package principal names gcpconn's callers and the patterns that admit them (ARCHITECTURE.md,
// Production rules). A caller is either
//   - a Google caller, named by the verified email of its Google ID token, lowercase
//     ("alice@example.com"), or
//   - a federated caller: a workload whose OIDC token was issued by one of the deployment's
//     trusted issuers (connector.Policy.Issuers), named "NAME:SUBJECT" where NAME is the
//     issuer's short name and SUBJECT its subject claim, case-sensitive
//     ("github:repo:acme/pipelines:ref:refs/heads/main").
//
// An email never contains ':' and a federated principal always does, so the two can never be
// mistaken for one another. A connector's users and the deployment's admins hold principal
// patterns: an email, an exact "NAME:SUBJECT", or "NAME:PREFIX*" (every subject of the
// configured issuer NAME that starts with PREFIX). NAME must be a configured trusted issuer,
// and a glob must end at a separator: PREFIX is empty or ends with ':' or '/'
// ("github:repo:acme/*"), so that "acme/lib*" cannot admit "acme/lib-evil" and "acme*" cannot
// admit the owner "acme-evil". A stored pattern that breaks the rule (registered before it)
// matches nobody. A connector's owner is always an exact principal.
package principal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/gcpconn/gcpconn/shared/internal/input"
)

// Principal is an authenticated caller: Email for a Google caller, Issuer and Subject for a
// federated one (exactly one of the two forms). The core (shared/connector) decides what a
// principal may do with a connector.
type Principal struct {
	Email   string // a Google caller's verified email, lowercase
	Issuer  string // a federated caller's trusted issuer name (connector.Policy.Issuers)
	Subject string // a federated caller's subject claim, case-sensitive
}

// GoogleIssuer is the issuer name of Google callers in audit entries; no trusted issuer
// may take it.
const GoogleIssuer = "google"

// MaxLen bounds a principal pattern and a federated subject, in bytes.
const MaxLen = 512

// String returns the principal's name: the email, or NAME:SUBJECT.
func (p Principal) String() string {
	if p.Issuer != "" {
		return p.Issuer + ":" + p.Subject
	}
	return p.Email
}

// IssuerName names who vouched for p: GoogleIssuer or the trusted issuer's name.
func (p Principal) IssuerName() string {
	if p.Issuer != "" {
		return p.Issuer
	}
	return GoogleIssuer
}

// Federated reports whether p is a federated caller.
func (p Principal) Federated() bool { return p.Issuer != "" }

// Valid reports whether p is exactly one well-formed kind of caller.
func (p Principal) Valid() bool {
	if p.Issuer != "" || p.Subject != "" {
		return p.Email == "" && CheckIssuerName(p.Issuer) == nil && p.Subject != "" && len(p.Subject) <= MaxLen
	}
	return strings.TrimSpace(p.Email) != "" && !strings.Contains(p.Email, ":")
}

// Is reports whether p is exactly the principal name (an owner): emails compare
// case-insensitively, federated subjects exactly. Globs are not expanded.
func (p Principal) Is(name string) bool {
	if !p.Valid() {
		return false
	}
	if p.Issuer == "" {
		name = strings.TrimSpace(name)
		return name != "" && !strings.Contains(name, ":") && strings.EqualFold(name, p.Email)
	}
	return name == p.String()
}

// Matches reports whether p is one of the principals the pattern names (a user or admin
// entry): an email, an exact NAME:SUBJECT, or NAME:PREFIX*.
func (p Principal) Matches(pattern string) bool {
	if !p.Valid() {
		return false
	}
	if p.Issuer == "" {
		return p.Is(pattern)
	}
	name, subj, ok := strings.Cut(pattern, ":")
	if !ok || name != p.Issuer {
		return false
	}
	if prefix, glob := strings.CutSuffix(subj, "*"); glob {
		return globAtSeparator(prefix) && strings.HasPrefix(p.Subject, prefix)
	}
	return subj == p.Subject
}

// globSeparators are the characters a glob's prefix must end with (or the prefix is empty).
const globSeparators = ":/"

// globAtSeparator reports whether the glob NAME:PREFIX* ends at a separator: PREFIX is empty
// (every subject of NAME) or ends with ':' or '/'.
func globAtSeparator(prefix string) bool {
	return prefix == "" || strings.ContainsRune(globSeparators, rune(prefix[len(prefix)-1]))
}

// CheckPattern validates one entry of users or admins and returns it normalised
// (emails lowercase; federated principals unchanged). issuers are the names of the
// configured trusted issuers: a federated entry must name one of them, and a glob must end at
// a separator (see globAtSeparator). The error says what is wrong and what is accepted,
// without a field name (callers add theirs).
func CheckPattern(s string, issuers []string) (string, error) {
	const accepted = "principals are emails, NAME:SUBJECT, or NAME:PREFIX* for subjects of a configured trusted issuer"
	const globRule = "a glob must end at a separator: the * follows ':' or '/' (NAME:repo:acme/* or NAME:*)"
	switch {
	case s == "*":
		return "", fmt.Errorf(`"*": a bare * would admit every caller and is not accepted; %s`, accepted)
	case len(s) > MaxLen:
		return "", fmt.Errorf("%s is longer than %d bytes", input.Quote(s), MaxLen)
	}
	name, subj, federated := strings.Cut(s, ":")
	if !federated {
		if strings.HasSuffix(s, "*") {
			return "", fmt.Errorf("%s is not an email address, and globs are accepted only on a trusted issuer's subjects; %s", input.Quote(s), accepted)
		}
		if err := input.Email(s); err != nil {
			return "", fmt.Errorf("%s is not an email address: %v (%s)", input.Quote(s), err, accepted)
		}
		return strings.ToLower(s), nil
	}
	if err := CheckIssuerName(name); err != nil {
		return "", fmt.Errorf("%s names issuer %s, which is not an issuer name: %v (%s)", input.Quote(s), input.Quote(name), err, accepted)
	}
	prefix, glob := strings.CutSuffix(subj, "*")
	switch {
	case subj == "":
		return "", fmt.Errorf("%s has no subject after %q (%s)", input.Quote(s), name+":", accepted)
	case strings.Contains(prefix, "*"):
		return "", fmt.Errorf("%s has a * that is not at the end: only a trailing * is a glob", input.Quote(s))
	case strings.IndexFunc(subj, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return "", fmt.Errorf("%s has whitespace or a control character in its subject", input.Quote(s))
	case !slices.Contains(issuers, name):
		return "", fmt.Errorf("%s names issuer %s, which is not a configured trusted issuer (configured: %s); its callers could never match",
			input.Quote(s), input.Quote(name), issuerList(issuers))
	case glob && !globAtSeparator(prefix):
		return "", fmt.Errorf("%s: %s, so that it cannot admit subjects that merely start alike (%s would also match %s)",
			input.Quote(s), globRule, input.Quote(s), input.Quote(prefix+"-evil"))
	}
	return s, nil
}

func issuerList(issuers []string) string {
	if len(issuers) == 0 {
		return "none"
	}
	return strings.Join(issuers, ", ")
}

// CheckIssuerName reports why name cannot name a trusted issuer, or nil: 1 to 32 characters,
// lowercase letters, digits and '-', starting with a letter, and not "google".
func CheckIssuerName(name string) error {
	switch {
	case name == "" || len(name) > 32:
		return errors.New("it must be 1 to 32 characters")
	case name[0] < 'a' || name[0] > 'z':
		return errors.New("it must start with a lowercase letter")
	case !input.All(name, func(c byte) bool { return input.IsLowerDigit(c) || c == '-' }):
		return errors.New("it may contain only lowercase letters, digits and '-'")
	case name == GoogleIssuer:
		return errors.New("\"google\" names Google's own callers")
	}
	return nil
}
