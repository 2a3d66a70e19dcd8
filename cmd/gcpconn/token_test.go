package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]int{"": 0, "900": 900, "15m": 900, "1h": 3600} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "-5", "0s"} {
		if _, err := parseLifetime(in); err == nil {
			t.Errorf("parseLifetime(%q) succeeded; want an error", in)
		}
	}
}

func TestSubjectToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "oidc.jwt")
	if err := os.WriteFile(file, []byte("from.file.jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, flag, env, want string
		wantErr               bool
	}{
		{"none", "", "", "", false},
		{"flag", "from.flag.jwt", "from.env.jwt", "from.flag.jwt", false},
		{"file", "@" + file, "", "from.file.jwt", false},
		{"missing file", "@" + file + ".nope", "", "", true},
		{"environment", "", " from.env.jwt\n", "from.env.jwt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &parsed{Flags: map[string][]string{}}
			if tt.flag != "" {
				p.Flags["subject-token"] = []string{tt.flag}
			}
			e := &env{Getenv: func(k string) string {
				if k == "GCPCONN_SUBJECT_TOKEN" {
					return tt.env
				}
				return ""
			}}
			got, err := subjectToken(e, p)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("subjectToken(flag %q, env %q) = %q, %v; want %q (error %v)", tt.flag, tt.env, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
