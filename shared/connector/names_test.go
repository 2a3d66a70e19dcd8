package connector

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		want string // substring of the error; "" means valid
	}{
		{"a", ""},
		{"gcp-user-account", ""},
		{"team-1", ""},
		{"x" + strings.Repeat("9", 62), ""},
		{"abcdef0123456789abcdef012345678", ""},   // 31 hex characters
		{"abcdef0123456789abcdef0123456789g", ""}, // 33 characters
		{"", "the name is empty"},
		{"x" + strings.Repeat("9", 63), "it is 64 bytes long; the limit is 63"},
		{"1team", "must start with a lowercase letter"},
		{"-team", "must start with a lowercase letter"},
		{"team-", "must end with a lowercase letter or a digit"},
		{"Team", "must start with a lowercase letter"},
		{"team_a", "only lowercase letters (a-z), digits and hyphens"},
		{"team.a", "only lowercase letters"},
		{"team a", "only lowercase letters"},
		{"tëam", "only lowercase letters"},
		{"abcdef0123456789abcdef0123456789", "32 hexadecimal characters is the form of connector ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateName(tt.name)
			if tt.want == "" {
				if err != nil {
					t.Errorf("validateName(%q) = %v; want nil", tt.name, err)
				}
				return
			}
			if KindOf(err) != ErrInvalid || FieldOf(err) != "name" || !strings.Contains(MessageOf(err), tt.want) {
				t.Errorf("validateName(%q) = %v; want ErrInvalid for name containing %q", tt.name, err, tt.want)
			}
		})
	}
}
