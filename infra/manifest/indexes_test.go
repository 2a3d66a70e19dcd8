package manifest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testIndexes = `{
  "indexes": [
    {"collectionGroup": "connectors", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "resource_types", "arrayConfig": "CONTAINS"},
      {"fieldPath": "name", "order": "ASCENDING"}]}
  ],
  "fieldOverrides": []
}`

func TestLoadIndexesRefuses(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"unknown field", `"queryScope"`, `"scope"`, "unknown field"},
		{"bad scope", `"COLLECTION"`, `"DATABASE"`, "want COLLECTION or COLLECTION_GROUP"},
		{"order and array", `"arrayConfig": "CONTAINS"`, `"arrayConfig": "CONTAINS", "order": "ASCENDING"`, "not both"},
		{"neither", `, "arrayConfig": "CONTAINS"`, ``, `arrayConfig "": want CONTAINS`},
		{"bad order", `"order": "ASCENDING"`, `"order": "UP"`, `order "UP"`},
		{"one field", `{"fieldPath": "resource_types", "arrayConfig": "CONTAINS"},`, ``, "at least 2 fields"},
		{"field path with a space", `"fieldPath": "name"`, `"fieldPath": "name x"`, `fieldPath "name x"`},
		{"no indexes", `{"collectionGroup"`, `{"x"`, "unknown field"},
		{"field overrides", `"fieldOverrides": []`, `"fieldOverrides": [{}]`, "leave it empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(testIndexes, tt.old, tt.new, 1)
			if text == testIndexes {
				t.Fatalf("the case changes nothing: %q not in the file", tt.old)
			}
			_, err := LoadIndexes(write(t, text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadIndexes = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestIndexGcloudArgs(t *testing.T) {
	idx, err := LoadIndexes(write(t, testIndexes))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--collection-group=connectors", "--query-scope=collection",
		"--field-config=field-path=resource_types,array-config=contains",
		"--field-config=field-path=name,order=ascending"}
	if got := idx[0].GcloudArgs(); !slices.Equal(got, want) {
		t.Errorf("GcloudArgs = %q; want %q", got, want)
	}
}

// The repository's own file loads: deploy.sh and Terraform both read it.
func TestRepositoryIndexesLoad(t *testing.T) {
	idx, err := LoadIndexes(filepath.Join("..", "firestore.indexes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) == 0 {
		t.Fatal("no indexes")
	}
}
