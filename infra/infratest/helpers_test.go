package infratest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestSplitCommands(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
	}{
		{"gcloud a b", [][]string{{"gcloud", "a", "b"}}},
		{"gcloud 'a b' \"c d\" e\\ f", [][]string{{"gcloud", "a b", "c d", "e f"}}},
		{"gcloud '--x=^;^A=1;B=2' --y", [][]string{{"gcloud", "--x=^;^A=1;B=2", "--y"}}},
		{"a >/dev/null 2>&1 || b c", [][]string{{"a"}, {"b", "c"}}},
		{"if a x >/dev/null 2>&1; then b; else c; fi", [][]string{{"a", "x"}, {"b"}, {"c"}}},
		{"# comment\na \\\n  b # trailing\nc", [][]string{{"a", "b"}, {"c"}}},
		{`a "q\"uote" 'it'\''s'`, [][]string{{"a", `q"uote`, "it's"}}},
		{"a && b | c; d", [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
		{`gcloud run x "$${fn}" --p=${_P}`, [][]string{{"gcloud", "run", "x", "$${fn}", "--p=${_P}"}}},
		{`echo "c \"d\" \$e \x"`, [][]string{{"echo", `c "d" $e \x`}}},
		{"a \"two\\\nlines\" b#c", [][]string{{"a", "twolines", "b#c"}}},
		{"a < in b 2> err c", [][]string{{"a", "b", "c"}}},
		{"for i in 1; do w; done", [][]string{{"for", "i", "in", "1"}, {"w"}}},
		{"a & b", [][]string{{"a"}, {"b"}}},
		{"\n\n;", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := SplitCommands(tt.in)
			if err != nil {
				t.Fatalf("SplitCommands(%q) error = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitCommands(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"a 'b", `a "b`} {
		if _, err := SplitCommands(bad); err == nil {
			t.Errorf("SplitCommands(%q) error = nil; want unterminated quote", bad)
		}
	}
}

func TestFlagsAndEnvVars(t *testing.T) {
	flags, args := Flags([]string{"gcloud", "functions", "deploy", "x", "--gen2", "--a=1", "--a=2", "--b=k=v"})
	if !reflect.DeepEqual(args, []string{"gcloud", "functions", "deploy", "x"}) {
		t.Errorf("Flags args = %q", args)
	}
	want := map[string][]string{"gen2": {""}, "a": {"1", "2"}, "b": {"k=v"}}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("Flags = %q; want %q", flags, want)
	}

	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"A=1,B=2", map[string]string{"A": "1", "B": "2"}, false},
		{"^;^A=a,b;B=", map[string]string{"A": "a,b", "B": ""}, false},
		{"^@@^A=x@y@@B=2", map[string]string{"A": "x@y", "B": "2"}, false},
		{"A=1,A=2", nil, true},
		{"A", nil, true},
		{"^;A=1", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := EnvVars(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("EnvVars(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EnvVars(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIgnore(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader("# c\n.git/\ninfra/\n*.md\n!keep.md\n/top.txt\ndocs/*.txt\n**/gen/**\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path  string
		isDir bool
		want  bool
	}{
		{".git", true, true},
		{".git/config", false, true},
		{".git", false, false}, // a file named .git is not the directory
		{"infra", true, true},
		{"infra/main.tf", false, true},
		{"a/infra/x.tf", false, true}, // unanchored: matches at any depth
		{"README.md", false, true},
		{"shared/doc.md", false, true},
		{"keep.md", false, false},
		{"top.txt", false, true},
		{"sub/top.txt", false, false}, // anchored
		{"docs/a.txt", false, true},
		{"docs/sub/a.txt", false, false},
		{"x/gen/y.go", false, true},
		{"entrypoints.go", false, false},
		{"shared/store/store.go", false, false},
	}
	for _, tt := range tests {
		if got := ig.Ignored(tt.path, tt.isDir); got != tt.want {
			t.Errorf("Ignored(%q, dir %v) = %v; want %v", tt.path, tt.isDir, got, tt.want)
		}
	}
	if _, err := ParseIgnore(strings.NewReader("#!include:.gitignore\n")); err == nil {
		t.Error("ParseIgnore(#!include) error = nil; want unsupported directive")
	}
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{"Register": "register", "MintToken": "mint-token", "List": "list", "RefreshOnRotation": "refresh-on-rotation"} {
		if got := FunctionName(in); got != want {
			t.Errorf("FunctionName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestRegistered(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    map[string]string
		wantErr bool
	}{
		{"plain", `package p
import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() {
	functions.HTTP("Register", nil)
	functions.CloudEvent("Refresh", nil)
}`, map[string]string{"Register": KindHTTP, "Refresh": KindCloudEvent}, false},
		{"alias", `package p
import ff "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() { ff.HTTP("MintToken", nil) }`, map[string]string{"MintToken": KindHTTP}, false},
		{"other package named functions", `package p
import functions "example.com/other"
func init() { functions.HTTP("X", nil) }`, map[string]string{}, false},
		{"duplicate", `package p
import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() { functions.HTTP("A", nil); functions.HTTP("A", nil) }`, nil, true},
		{"computed name", `package p
import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
var n = "A"
func init() { functions.HTTP(n, nil) }`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "entrypoints.go"), []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			// A test file's registrations do not count.
			test := "package p\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(\"TestOnly\", nil) }\n"
			if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(test), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Registered(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Registered() error = %v; want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Registered() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestLoadModule(t *testing.T) {
	dir := t.TempDir()
	tf := `
variable "names" {
  default = ["a", "b"]
}
variable "required" {}
locals {
  prefix = "p-${var.required}"
  email  = google_service_account.sa.email
  bad    = { for n in var.names : "${n}-${google_service_account.sa.email}" => n }
}
resource "google_service_account" "sa" {
  account_id = local.prefix
}
resource "thing" "each" {
  for_each = toset(var.names)
  name     = "${local.prefix}-${each.key}"
  owner    = google_service_account.sa.email
  nested {
    value = each.value
  }
  dynamic "item" {
    for_each = var.names
    content {
      v = item.value
    }
  }
}
resource "thing" "counted" {
  count = 2
  ref   = thing.each["a"].name
  other = thing.each[count.index == 0 ? "a" : "b"].id
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModule(dir, nil); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("LoadModule without a required variable: error = %v; want one naming it", err)
	}
	m, err := LoadModule(dir, map[string]cty.Value{"required": cty.StringVal("r")})
	if err != nil {
		t.Fatalf("LoadModule() = %v", err)
	}
	if got := m.Locals["email"].AsString(); got != "${google_service_account.sa.email}" {
		t.Errorf("local.email = %q; want the placeholder", got)
	}
	each := m.Find("resource", "thing", "each")
	if len(each.Instances) != 2 {
		t.Fatalf("thing.each has %d instances; want 2", len(each.Instances))
	}
	in := each.Instances[1]
	if got := str(t, in, "name"); got != "p-r-b" {
		t.Errorf("thing.each[b].name = %q; want p-r-b", got)
	}
	if got := str(t, block(t, in, "nested"), "value"); got != "b" {
		t.Errorf("thing.each[b].nested.value = %q; want b", got)
	}
	items, err := in.Blocks("item")
	if err != nil || len(items) != 2 || str(t, items[1], "v") != "b" {
		t.Errorf("dynamic item blocks = %d, %v; want 2 ending in b", len(items), err)
	}
	counted := m.Find("resource", "thing", "counted")
	if len(counted.Instances) != 2 {
		t.Fatalf("thing.counted has %d instances; want 2", len(counted.Instances))
	}
	if got := str(t, counted.Instances[0], "ref"); got != `${thing.each["a"].name}` {
		t.Errorf("thing.counted[0].ref = %q", got)
	}
	if got := str(t, counted.Instances[1], "other"); got != `${thing.each["b"].id}` {
		t.Errorf("thing.counted[1].other = %q", got)
	}

	// for_each keys that depend on apply-time values are refused, as terraform plan would.
	bad := tf + `
resource "thing" "unknown_keys" {
  for_each = local.bad
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModule(dir, map[string]cty.Value{"required": cty.StringVal("r")}); err == nil || !strings.Contains(err.Error(), "known only after apply") {
		t.Errorf("LoadModule with apply-time for_each keys: error = %v; want it refused", err)
	}
}
