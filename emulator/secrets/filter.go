package secrets

import (
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
)

// parseSecretFilter understands the subset of Secret Manager's list filter
// syntax that label-based lookups use: space-separated terms (AND, the
// keyword "AND" is allowed) of the forms
//
//	labels.KEY=VALUE   the label has exactly this value
//	labels.KEY:VALUE   the label's value contains VALUE ("*" = has the label)
//	labels:KEY         the label is present
//	name:TEXT          the secret id contains TEXT
//	name=ID            the secret id is ID
//
// Anything else is INVALID_ARGUMENT, so a caller never gets an unfiltered
// list by mistake.
func parseSecretFilter(filter string) (func(*secretmanagerpb.Secret) bool, *googleerr.Error) {
	var preds []func(*secretmanagerpb.Secret) bool
	for _, term := range strings.Fields(filter) {
		if term == "AND" {
			continue
		}
		op := strings.IndexAny(term, "=:")
		if op <= 0 {
			return nil, badFilter(term)
		}
		field, eq, value := term[:op], term[op] == '=', strings.Trim(term[op+1:], `"`)
		switch {
		case field == "labels" && !eq:
			preds = append(preds, func(s *secretmanagerpb.Secret) bool { _, ok := s.GetLabels()[value]; return ok })
		case strings.HasPrefix(field, "labels."):
			key := strings.TrimPrefix(field, "labels.")
			preds = append(preds, func(s *secretmanagerpb.Secret) bool {
				v, ok := s.GetLabels()[key]
				switch {
				case !ok:
					return false
				case eq:
					return v == value
				case value == "*":
					return true
				}
				return strings.Contains(v, value)
			})
		case field == "name":
			preds = append(preds, func(s *secretmanagerpb.Secret) bool {
				id := s.GetName()[strings.LastIndex(s.GetName(), "/")+1:]
				if eq {
					return id == value
				}
				return strings.Contains(id, value)
			})
		default:
			return nil, badFilter(term)
		}
	}
	return func(s *secretmanagerpb.Secret) bool {
		for _, p := range preds {
			if !p(s) {
				return false
			}
		}
		return true
	}, nil
}

// parseStateFilter understands "state:ENABLED" / "state=DISABLED" for
// version lists ("" = every state).
func parseStateFilter(filter string) (secretmanagerpb.SecretVersion_State, *googleerr.Error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return secretmanagerpb.SecretVersion_STATE_UNSPECIFIED, nil
	}
	op := strings.IndexAny(filter, "=:")
	if op <= 0 || filter[:op] != "state" {
		return 0, badFilter(filter)
	}
	v, ok := secretmanagerpb.SecretVersion_State_value[strings.ToUpper(filter[op+1:])]
	if !ok || v == 0 {
		return 0, badFilter(filter)
	}
	return secretmanagerpb.SecretVersion_State(v), nil
}

func badFilter(term string) *googleerr.Error {
	return googleerr.InvalidArgument("Invalid filter: " + trunc(term) + ".")
}
