package manifest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Index is one composite index of infra/firestore.indexes.json (the Firebase CLI's format),
// the one place gcpconn's Firestore indexes are declared. Terraform reads the file with
// jsondecode; scripts/deploy.sh creates each index with the arguments of GcloudArgs.
type Index struct {
	CollectionGroup string       `json:"collectionGroup"`
	QueryScope      string       `json:"queryScope"` // COLLECTION or COLLECTION_GROUP
	Fields          []IndexField `json:"fields"`
}

// IndexField is one field of an index: ordered (Order) or an array membership (ArrayConfig).
type IndexField struct {
	FieldPath   string `json:"fieldPath"`
	Order       string `json:"order,omitempty"`       // ASCENDING or DESCENDING
	ArrayConfig string `json:"arrayConfig,omitempty"` // CONTAINS
}

// indexFile is the whole file; fieldOverrides is part of the format and must stay empty here.
type indexFile struct {
	Indexes        []Index           `json:"indexes"`
	FieldOverrides []json.RawMessage `json:"fieldOverrides"`
}

// A name is one shell word as deploy.sh passes it (no spaces, no quoting needed).
var indexName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// LoadIndexes reads and checks the index file at path.
func LoadIndexes(path string) ([]Index, error) {
	var f indexFile
	if err := readJSON(path, &f); err != nil {
		return nil, err
	}
	if len(f.FieldOverrides) > 0 {
		return nil, fmt.Errorf("%s: fieldOverrides are not deployed by scripts/deploy.sh or Terraform; leave it empty", path)
	}
	if len(f.Indexes) == 0 {
		return nil, fmt.Errorf("%s: no indexes", path)
	}
	for i, idx := range f.Indexes {
		if err := idx.check(); err != nil {
			return nil, fmt.Errorf("%s: index %d: %w", path, i, err)
		}
	}
	return f.Indexes, nil
}

func (idx Index) check() error {
	if !indexName.MatchString(idx.CollectionGroup) {
		return fmt.Errorf("collectionGroup %q: want a collection name (letters, digits, _ and .)", idx.CollectionGroup)
	}
	if idx.QueryScope != "COLLECTION" && idx.QueryScope != "COLLECTION_GROUP" {
		return fmt.Errorf("queryScope %q: want COLLECTION or COLLECTION_GROUP", idx.QueryScope)
	}
	if len(idx.Fields) < 2 {
		return fmt.Errorf("a composite index has at least 2 fields, got %d", len(idx.Fields))
	}
	for _, f := range idx.Fields {
		if !indexName.MatchString(f.FieldPath) {
			return fmt.Errorf("fieldPath %q: want a field path (letters, digits, _ and .)", f.FieldPath)
		}
		switch {
		case f.Order != "" && f.ArrayConfig != "":
			return fmt.Errorf("field %s: give order or arrayConfig, not both", f.FieldPath)
		case f.Order == "ASCENDING", f.Order == "DESCENDING", f.Order == "" && f.ArrayConfig == "CONTAINS":
		case f.Order != "":
			return fmt.Errorf("field %s: order %q: want ASCENDING or DESCENDING", f.FieldPath, f.Order)
		default:
			return fmt.Errorf("field %s: arrayConfig %q: want CONTAINS (or give order)", f.FieldPath, f.ArrayConfig)
		}
	}
	return nil
}

// GcloudArgs returns the index's flags for `gcloud firestore indexes composite create`:
// --collection-group, --query-scope and one --field-config per field, in order.
func (idx Index) GcloudArgs() []string {
	args := []string{
		"--collection-group=" + idx.CollectionGroup,
		"--query-scope=" + strings.ReplaceAll(strings.ToLower(idx.QueryScope), "_", "-"),
	}
	for _, f := range idx.Fields {
		c := "field-path=" + f.FieldPath
		if f.Order != "" {
			c += ",order=" + strings.ToLower(f.Order)
		} else {
			c += ",array-config=" + strings.ToLower(f.ArrayConfig)
		}
		args = append(args, "--field-config="+c)
	}
	return args
}
