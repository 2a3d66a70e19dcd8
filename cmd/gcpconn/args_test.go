package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	specs := []flagSpec{
		{Name: "resource-type", Short: "r", Value: "TYPE"},
		{Name: "label", Short: "l", Value: "KV", Repeat: true},
		{Name: "no-verify"},
	}
	tests := []struct {
		name    string
		argv    []string
		extras  bool
		pos     []string
		flags   map[string][]string
		extra   map[string]string
		wantErr string
	}{
		{"mixed", []string{"n", "-r", "gcs-bucket", "--label=a=b", "-l", "c=d", "--no-verify"}, false,
			[]string{"n"}, map[string][]string{"resource-type": {"gcs-bucket"}, "label": {"a=b", "c=d"}, "no-verify": {"true"}}, map[string]string{}, ""},
		{"extras", []string{"--project_id=p", "n", "--service_account_json=@k.json"}, true,
			[]string{"n"}, map[string][]string{}, map[string]string{"project_id": "p", "service_account_json": "@k.json"}, ""},
		{"value with equals", []string{"--token=a=b="}, true, nil, map[string][]string{}, map[string]string{"token": "a=b="}, ""},
		{"double dash", []string{"--", "--no-verify"}, false, []string{"--no-verify"}, map[string][]string{}, map[string]string{}, ""},
		{"extra without value", []string{"--project_id", "p"}, true, nil, nil, nil, "configuration values are given as --key=value"},
		{"unknown", []string{"--nope=1"}, false, nil, nil, nil, "unknown flag --nope"},
		{"unknown with a secret value", []string{"--token=ya29.secret"}, false, nil, nil, nil, "unknown flag --token"},
		{"missing value", []string{"-r"}, false, nil, nil, nil, "--resource-type needs a value"},
		{"twice", []string{"-r", "a", "-r", "b"}, false, nil, nil, nil, "--resource-type is given twice"},
		{"bool with value", []string{"--no-verify=yes"}, false, nil, nil, nil, "takes no value"},
		{"long flag with one dash", []string{"-resource-type", "x"}, false, nil, nil, nil, "unknown flag"},
		{"duplicate extra", []string{"--a=1", "--a=2"}, true, nil, nil, nil, "--a is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseArgs(specs, tt.argv, tt.extras)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != exitUsage {
					t.Fatalf("parseArgs(%q) error = %v; want %q (a usage error)", tt.argv, err, tt.wantErr)
				}
				for _, a := range tt.argv {
					if !strings.HasPrefix(tt.wantErr, "unknown flag") {
						break // a boolean's bad value is no secret and helps
					}
					if _, v, ok := strings.Cut(a, "="); ok && strings.Contains(err.Error(), v) {
						t.Errorf("parseArgs(%q) error = %q; it shows the value %q", tt.argv, err, v)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.argv, err)
			}
			if !reflect.DeepEqual(p.Pos, tt.pos) || !reflect.DeepEqual(p.Flags, tt.flags) || !reflect.DeepEqual(p.Extras, tt.extra) {
				t.Errorf("parseArgs(%q) = pos %q flags %v extras %v; want %q %v %v", tt.argv, p.Pos, p.Flags, p.Extras, tt.pos, tt.flags, tt.extra)
			}
		})
	}
}
