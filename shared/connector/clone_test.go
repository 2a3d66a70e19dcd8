package connector

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The connector's field lists written by hand (Clone's deep copy, Fingerprint's cache key) are
// checked by reflection here, so that a field added to Connector, Config or Rotation that
// either one does not handle fails a test instead of aliasing a cached connector or serving a
// token minted under an old configuration.

var timeType = reflect.TypeFor[time.Time]()

// fill sets every exported field reachable from v (settable) to a non-zero value; slices and
// maps get two elements, pointers a filled target.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("v-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(path)) + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(len(path)) + 1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path+"*")
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), path+"[]")
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"a", "b"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, path+"{}")
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				fill(t, v.Field(i), path+"."+f.Name)
			}
		}
	default:
		t.Fatalf("fill: %s has kind %s, which this test does not know: teach fill and mutate", path, v.Kind())
	}
}

// mutate changes, in place, every value reachable from v: the elements of slices and maps and
// the targets of pointers, not the slice, map or pointer itself. After mutating a deep copy,
// the original must be unchanged.
func mutate(v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Second)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "'")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			mutate(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i))
			}
		}
	}
}

func filledConnector(t *testing.T) *Connector {
	c := &Connector{}
	fill(t, reflect.ValueOf(c).Elem(), "Connector")
	return c
}

func TestCloneSharesNothing(t *testing.T) {
	orig, want := filledConnector(t), filledConnector(t)
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("Clone() differs from its source:\n got %+v\nwant %+v", c, orig)
	}
	mutate(reflect.ValueOf(c).Elem())
	if !reflect.DeepEqual(orig, want) {
		t.Fatalf("changing the clone in place changed the original: Clone shares a map, slice or pointer with it:\n got %+v\nwant %+v", orig, want)
	}
	if (*Connector)(nil).Clone() != nil {
		t.Fatal("nil.Clone() != nil")
	}
}

// fingerprintFields classifies every field of Connector for Fingerprint: true when a change
// must change the fingerprint (it changes which token Google issues), false with the reason it
// need not. A field missing here fails TestFingerprintCoversConfiguration.
var fingerprintFields = map[string]bool{
	"AuthMethod": true,
	"Config":     true,
	"ExpiresAt":  true,
	// The token cache keys on these apart from the fingerprint.
	"ID": false, "SecretVersion": false,
	// Who may mint, what for, and bookkeeping: checked before the cache, never part of a token.
	"Name": false, "Type": false, "Description": false, "Labels": false,
	"ResourceTypes": false, "ResourceID": false, "SupportsInstances": false,
	"SecretFields": false, "Owner": false, "Users": false, "ExpirationSeconds": false,
	"CreatedAt": false, "UpdatedAt": false, "CleanupAfter": false, "Status": false, "Rotation": false, "Revision": false,
}

func TestFingerprintCoversConfiguration(t *testing.T) {
	base := filledConnector(t)
	ct := reflect.TypeFor[Connector]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		in, known := fingerprintFields[f.Name]
		if !known {
			t.Errorf("Connector.%s is new: say in fingerprintFields whether it changes the token Google issues (and add it to Fingerprint if so)", f.Name)
			continue
		}
		if !in {
			continue
		}
		// Change one leaf at a time: every configuration field on its own must count.
		for _, leaf := range leaves(reflect.ValueOf(base.Clone()).Elem().Field(i), f.Name) {
			c := base.Clone()
			v := reflect.ValueOf(c).Elem()
			for _, idx := range leaf.index {
				v = v.Field(idx)
			}
			mutate(v)
			if c.Fingerprint() == base.Fingerprint() {
				t.Errorf("changing %s leaves Fingerprint unchanged: a token minted under the old value would be served", leaf.name)
			}
		}
	}
}

type leaf struct {
	name  string
	index []int
}

// leaves lists the exported fields of a struct value (itself when not a struct) by index path.
func leaves(v reflect.Value, name string) []leaf {
	var idx []int
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Connector]()) {
		if f.Name == name {
			idx = f.Index
		}
	}
	if v.Kind() != reflect.Struct || v.Type() == timeType {
		return []leaf{{name, idx}}
	}
	var out []leaf
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			sub := strings.Join([]string{name, v.Type().Field(i).Name}, ".")
			out = append(out, leaf{sub, append(append([]int{}, idx...), i)})
		}
	}
	return out
}
