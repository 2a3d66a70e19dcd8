package connector

import (
	"slices"

	"github.com/gcpconn/gcpconn/shared/internal/input"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// wantedTypes returns the resource types a request names: ResourceType, ResourceTypes, or
// every type when both are empty; it does not validate them.
func wantedTypes(rt ResourceType, rts []ResourceType) []ResourceType {
	switch {
	case rt != "":
		return []ResourceType{rt}
	case len(rts) > 0:
		return rts
	}
	return slices.Clone(resourceid.Types)
}

// connectorShape validates the resource types and id of a request and returns the types the
// connector serves (in spec order), its canonical resource id and whether it is
// multi-instance.
func connectorShape(rt ResourceType, rts []ResourceType, id, project string) ([]ResourceType, string, bool, error) {
	if rt != "" && len(rts) > 0 && !(len(rts) == 1 && rts[0] == rt) {
		return nil, "", false, FieldErrorf("resource_types",
			"give resource_type or resource_types, not both with different values (resource_type %s, resource_types %s)",
			input.Quote(string(rt)), joinTypes(rts))
	}
	field := "resource_types"
	if rt != "" {
		field = "resource_type"
	}
	want := wantedTypes(rt, rts)
	for i, t := range want {
		if _, ok := resourcetype.Of(t); !ok {
			return nil, "", false, FieldErrorf(field, "unknown resource type %s; known types: %s", input.Quote(string(t)), joinTypes(resourceid.Types))
		}
		if slices.Contains(want[:i], t) {
			return nil, "", false, FieldErrorf(field, "resource type %q is listed twice", t)
		}
	}
	if len(want) > 1 {
		if id != "" {
			return nil, "", false, FieldErrorf("resource_id",
				"resource_id needs exactly one resource type, but the connector serves %s; give resource_type too", joinTypes(want))
		}
		var types []ResourceType
		for _, t := range resourceid.Types {
			if slices.Contains(want, t) {
				types = append(types, t)
			}
		}
		return types, "", false, nil
	}
	t := want[0]
	switch {
	case !supportsInstances(t) && id == "":
		return []ResourceType{t}, project, false, nil
	case id == "":
		return []ResourceType{t}, "", true, nil
	}
	canon, err := resourceid.Canonical(t, id, project)
	if err != nil {
		return nil, "", false, err
	}
	return []ResourceType{t}, canon, false, nil
}
