package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/gcpconn/gcpconn/shared/exactjson"
	"gopkg.in/yaml.v3"
)

// The documents the CLI reads that other programs write (kubeconfig, docker's config.json,
// gcloud's credentials) or the server sends (a kubeconfig) are read with bounded work: a size
// limit, and the nesting limit of the server's JSON (exactjson.MaxDepth) checked before they
// are decoded. They are decoded leniently afterwards: the CLI keeps what it does not know.

// Size limits of the documents the CLI reads.
const (
	maxConfigFileBytes = 4 << 20  // a kubeconfig or docker config.json on this machine
	maxServerYAMLBytes = 64 << 10 // the kubeconfig in a server's answer
)

// readBounded reads the file at path, refusing one larger than limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes; gcpconn reads at most %d", path, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1)) // the size may change after Stat
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; gcpconn reads at most that", path, limit)
	}
	return b, nil
}

// unmarshalJSON decodes the JSON document b into v leniently (unknown members kept or
// ignored, as encoding/json does) once exactjson.Scan has checked its shape: one value, no
// name twice, at most exactjson.MaxDepth levels.
func unmarshalJSON(b []byte, v any) error {
	if err := exactjson.Scan(b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// unmarshalYAML decodes the YAML document b into v once its nesting is checked: yaml.v3
// accepts 10,000 levels and decodes them recursively.
func unmarshalYAML(b []byte, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if err := yamlDepth(&doc, 0); err != nil {
		return err
	}
	if doc.Kind == 0 { // empty document
		return nil
	}
	return doc.Decode(v)
}

// yamlDepth refuses a node whose mappings and sequences nest more than exactjson.MaxDepth
// levels below depth, checking before it descends. Aliases are not followed (yaml.v3 bounds
// their expansion).
func yamlDepth(n *yaml.Node, depth int) error {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if depth++; depth > exactjson.MaxDepth {
			return fmt.Errorf("line %d: mappings and sequences nest more than %d levels deep", n.Line, exactjson.MaxDepth)
		}
	}
	for _, c := range n.Content {
		if err := yamlDepth(c, depth); err != nil {
			return err
		}
	}
	return nil
}
