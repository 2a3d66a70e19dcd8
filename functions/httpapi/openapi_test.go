package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// schemaTypes maps every schema of functions/openapi.yaml to the Go type it documents: the
// type of the same name in functions/wire (which server and client share), and the Pub/Sub
// bodies only the server reads.
var schemaTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{
		"PubSubPush":    reflect.TypeFor[pubsubPush](),
		"PubSubMessage": reflect.TypeFor[pubsubMessage](),
	}
	for _, t := range []reflect.Type{
		reflect.TypeFor[wire.RegisterRequest](), reflect.TypeFor[wire.UpdateRequest](),
		reflect.TypeFor[wire.RegisterResponse](), reflect.TypeFor[wire.Connector](),
		reflect.TypeFor[wire.Status](), reflect.TypeFor[wire.SecretLocation](),
		reflect.TypeFor[wire.Rotation](), reflect.TypeFor[wire.RotateRequest](),
		reflect.TypeFor[wire.RotateResponse](), reflect.TypeFor[wire.VerifyRequest](),
		reflect.TypeFor[wire.Resources](), reflect.TypeFor[wire.ResourceResult](),
		reflect.TypeFor[wire.ListResponse](), reflect.TypeFor[wire.DescribeResponse](),
		reflect.TypeFor[wire.TypesResponse](), reflect.TypeFor[wire.TypeSpec](),
		reflect.TypeFor[wire.ResourceTypeSpec](), reflect.TypeFor[wire.AuthMethodSpec](),
		reflect.TypeFor[wire.MintRequest](), reflect.TypeFor[wire.Downscope](),
		reflect.TypeFor[wire.Credential](), reflect.TypeFor[wire.Lifetime](),
		reflect.TypeFor[wire.DockerCredential](), reflect.TypeFor[wire.KubernetesCredential](),
		reflect.TypeFor[wire.SweepRequest](), reflect.TypeFor[wire.SweepReport](),
		reflect.TypeFor[wire.Shards](), reflect.TypeFor[wire.Unchecked](),
		reflect.TypeFor[wire.FailedShard](), reflect.TypeFor[wire.Error](),
		reflect.TypeFor[wire.ErrorDetail](),
	} {
		m[t.Name()] = t
	}
	return m
}()

// TestWireTypesAreDocumented checks that every type functions/wire declares is in
// schemaTypes, and so documented by the schema of its name: a new wire type without a schema
// fails here.
func TestWireTypesAreDocumented(t *testing.T) {
	files, err := filepath.Glob("../wire/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no functions/wire sources: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, spec := range g.Specs {
				ts := spec.(*ast.TypeSpec)
				name := ts.Name.Name
				// An alias (the type spec's types, defined once in shared/typespec) is mapped
				// to the type it names.
				if typ, ok := schemaTypes[name]; !ok || (typ.PkgPath() != reflect.TypeFor[wire.Error]().PkgPath() && !ts.Assign.IsValid()) {
					t.Errorf("wire type %s (%s) is not mapped to the openapi.yaml schema %s", name, f, name)
				}
			}
		}
	}
}

type openAPIDoc struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]yaml.Node `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

func loadOpenAPI(t *testing.T) (openAPIDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatalf("read functions/openapi.yaml: %v", err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse functions/openapi.yaml: %v", err)
	}
	return doc, raw
}

func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() || (name == "" && opts == "embed") {
			continue // embed fields keep the members a type does not name
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	api := &API{}
	documented := map[string]bool{}
	for p := range doc.Paths {
		documented[p] = true
	}
	for _, rt := range api.Routes() {
		ops, ok := doc.Paths[rt.Path]
		if !ok {
			t.Errorf("route %s is not documented in openapi.yaml", rt.Path)
			continue
		}
		delete(documented, rt.Path)
		var got, want []string
		for m := range ops {
			if m != "parameters" && m != "summary" && m != "description" {
				got = append(got, strings.ToUpper(m))
			}
		}
		want = slices.Clone(rt.Methods)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("openapi.yaml %s methods = %v; the handler serves %v", rt.Path, got, want)
		}
	}
	for p := range documented {
		t.Errorf("openapi.yaml documents %s, which no handler serves", p)
	}
}

func TestOpenAPISchemas(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	for name, s := range doc.Components.Schemas {
		typ, ok := schemaTypes[name]
		if !ok {
			t.Errorf("openapi.yaml schema %s documents no wire type", name)
			continue
		}
		var got []string
		for p := range s.Properties {
			got = append(got, p)
		}
		sort.Strings(got)
		if want := jsonFields(typ); !slices.Equal(got, want) {
			t.Errorf("openapi.yaml schema %s properties = %v; wire type %s has %v", name, got, typ, want)
		}
	}
	for name := range schemaTypes {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("wire type of %s is not documented in openapi.yaml", name)
		}
	}
	// Every $ref resolves.
	for _, line := range strings.Split(string(raw), "\n") {
		for _, part := range strings.Split(line, `"#/components/`)[1:] {
			ref, _, _ := strings.Cut(part, `"`)
			kind, name, _ := strings.Cut(ref, "/")
			if kind == "schemas" {
				if _, ok := doc.Components.Schemas[name]; !ok {
					t.Errorf("openapi.yaml refers to missing schema %s", name)
				}
			}
		}
	}
}

// TestOpenAPIErrorCodes checks that the documented error codes are exactly those the error
// table (and the transport-level answers) produce.
func TestOpenAPIErrorCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorDetail struct {
					Properties struct {
						Code struct {
							Enum []string `yaml:"enum"`
						} `yaml:"code"`
					} `yaml:"properties"`
				} `yaml:"ErrorDetail"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	raw, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(doc.Components.Schemas.ErrorDetail.Properties.Code.Enum))
	want := []string{codeTooLarge, codeMethodNotAllowed, codeRateLimited}
	for k := range statusOf {
		want = append(want, string(k))
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("openapi.yaml error codes = %v; the error table produces %v", got, want)
	}
}

// TestOpenAPIEnums checks that every resource_type and auth_method enum of openapi.yaml lists
// exactly the resource types of package resourcetype's records and the auth methods of package
// configschema, in their order: a type or method added to the code and not to the contract (or
// the other way round) fails here.
func TestOpenAPIEnums(t *testing.T) {
	var types, methods []string
	for _, info := range resourcetype.All() {
		types = append(types, string(info.Type))
	}
	for _, m := range configschema.Methods() {
		methods = append(methods, string(m))
	}
	want := map[string][]string{"resource_type": types, "auth_method": methods}
	doc, _ := loadOpenAPI(t)
	found := map[string]int{}
	for schema, s := range doc.Components.Schemas {
		for prop, node := range s.Properties {
			var p struct {
				Enum []string `yaml:"enum"`
			}
			if err := node.Decode(&p); err != nil {
				t.Fatalf("schema %s property %s: %v", schema, prop, err)
			}
			if w, ok := want[prop]; ok && p.Enum != nil {
				found[prop]++
				if !slices.Equal(p.Enum, w) {
					t.Errorf("openapi.yaml %s.%s enum = %v; the code has %v", schema, prop, p.Enum, w)
				}
			}
		}
	}
	for prop := range want {
		if found[prop] == 0 {
			t.Errorf("openapi.yaml has no %s enum to check", prop)
		}
	}
}
