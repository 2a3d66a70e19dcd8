package httpapi

import (
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// schemaTypes maps every schema of functions/openapi.yaml to the Go wire type it documents.
var schemaTypes = map[string]reflect.Type{
	"RegisterRequest":      reflect.TypeFor[registerBody](),
	"UpdateRequest":        reflect.TypeFor[updateBody](),
	"RegisterResponse":     reflect.TypeFor[registerResponse](),
	"Connector":            reflect.TypeFor[connectorJSON](),
	"Status":               reflect.TypeFor[statusJSON](),
	"SecretLocation":       reflect.TypeFor[secretJSON](),
	"Rotation":             reflect.TypeFor[rotationJSON](),
	"RotateRequest":        reflect.TypeFor[rotateBody](),
	"RotateResponse":       reflect.TypeFor[rotateResponse](),
	"VerifyRequest":        reflect.TypeFor[verifyBody](),
	"Resources":            reflect.TypeFor[resourcesJSON](),
	"ResourceResult":       reflect.TypeFor[resourceResultJSON](),
	"ListResponse":         reflect.TypeFor[listResponse](),
	"DescribeResponse":     reflect.TypeFor[describeResponse](),
	"TypesResponse":        reflect.TypeFor[typesResponse](),
	"TypeSpec":             reflect.TypeFor[connector.TypeSpec](),
	"ResourceTypeSpec":     reflect.TypeFor[connector.ResourceTypeSpec](),
	"AuthMethodSpec":       reflect.TypeFor[connector.AuthMethodSpec](),
	"MintRequest":          reflect.TypeFor[mintBody](),
	"Downscope":            reflect.TypeFor[downscopeJSON](),
	"Credential":           reflect.TypeFor[credentialJSON](),
	"Lifetime":             reflect.TypeFor[lifetimeJSON](),
	"DockerCredential":     reflect.TypeFor[dockerJSON](),
	"KubernetesCredential": reflect.TypeFor[kubernetesJSON](),
	"SweepRequest":         reflect.TypeFor[sweepBody](),
	"SweepReport":          reflect.TypeFor[sweepResponse](),
	"PubSubPush":           reflect.TypeFor[pubsubPush](),
	"PubSubMessage":        reflect.TypeFor[pubsubPush]().Field(0).Type,
	"Error":                reflect.TypeFor[errorBody](),
	"ErrorDetail":          reflect.TypeFor[errorJSON](),
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
