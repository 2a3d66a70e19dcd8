package connector

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, ""},
		{"bare kind", ErrNotFound, ErrNotFound},
		{"core error", Errorf(ErrAlreadyExists, "taken"), ErrAlreadyExists},
		{"wrapped core error", fmt.Errorf("store: %w", FieldErrorf("name", "bad")), ErrInvalid},
		{"wrapped kind", fmt.Errorf("gcp: %w", ErrUpstreamDenied), ErrUpstreamDenied},
		{"foreign error", errors.New("boom"), ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %q; want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorIsKind(t *testing.T) {
	err := fmt.Errorf("connector: mint %q: %w", "c1", &Error{Kind: ErrUpstreamUnavailable, Message: "throttled", Err: errors.New("429")})
	if !errors.Is(err, ErrUpstreamUnavailable) {
		t.Errorf("errors.Is(%v, ErrUpstreamUnavailable) = false; want true", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Errorf("errors.Is(%v, ErrNotFound) = true; want false", err)
	}
}

func TestMessageOfHidesForeignDetails(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{FieldErrorf("configuration.project_id", "project_id is required"), "project_id is required"},
		{fmt.Errorf("wrapped: %w", Errorf(ErrNotFound, "connector %q not found", "x")), `connector "x" not found`},
		{errors.New("dial tcp 10.0.0.1: secret detail"), "internal error"},
		{ErrConflict, "conflict"},
	}
	for _, tt := range tests {
		if got := MessageOf(tt.err); got != tt.want {
			t.Errorf("MessageOf(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
	if got := FieldOf(fmt.Errorf("x: %w", FieldErrorf("name", "bad"))); got != "name" {
		t.Errorf("FieldOf = %q; want %q", got, "name")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	s := Secrets{ServiceAccountJSON: `{"private_key":"SECRET-KEY"}`, Token: "ya29.SECRET"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if got := fmt.Sprintf(verb, s); got == "" || strings.Contains(got, "SECRET") {
			t.Errorf("Sprintf(%q, secrets) = %q; want no secret value", verb, got)
		}
	}
	if got := fmt.Sprintf("%v", struct{ S Secrets }{s}); strings.Contains(got, "SECRET") {
		t.Errorf("Sprintf of a struct holding Secrets = %q; want no secret value", got)
	}
	back, err := SecretsFromFields(s.Fields())
	if err != nil || back != s {
		t.Errorf("SecretsFromFields(Fields()) = %v, %v; want the same secrets", back == s, err)
	}
	if _, err := SecretsFromFields(map[string]string{"nope": "x"}); err == nil {
		t.Error("SecretsFromFields(unknown field) = nil error; want an error")
	}
}

// TestSecretFieldsCoverSecrets: every field of Secrets has its name in secretFields, so a new
// secret field cannot be dropped silently by Fields (storage) or SecretsFromFields (reading it
// back).
func TestSecretFieldsCoverSecrets(t *testing.T) {
	var s Secrets
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		v.Field(i).SetString("value-" + v.Type().Field(i).Name)
	}
	m := s.Fields()
	if len(m) != v.NumField() {
		t.Fatalf("Fields() has %d of the %d fields of Secrets: %v; add the missing ones to secretFields", len(m), v.NumField(), slices.Sorted(maps.Keys(m)))
	}
	if back, err := SecretsFromFields(m); err != nil || back != s {
		t.Errorf("SecretsFromFields(Fields()) lost a field (err %v)", err)
	}
}
