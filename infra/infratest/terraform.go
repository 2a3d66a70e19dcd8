package infratest

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// A Module is the Terraform configuration in one directory, evaluated with the variables'
// defaults (plus the values given to LoadModule). Attributes that only Google knows evaluate
// to placeholders: see the package documentation.
type Module struct {
	Dir       string
	Vars      map[string]cty.Value
	Locals    map[string]cty.Value
	Outputs   map[string]*Instance // one per output block; its "value" attribute is the output
	Resources []*Resource          // managed resources and data sources, in file order

	blocks map[string][]*hclsyntax.Block // top-level blocks by type
	refs   map[string]*refNode           // address -> attributes referenced anywhere
	ctx    *hcl.EvalContext
}

// A Resource is one resource or data block, expanded into its instances.
type Resource struct {
	Mode      string // "resource" or "data"
	Type      string
	Name      string
	Block     *hclsyntax.Block
	Instances []*Instance // nil until for_each or count could be evaluated
}

// Address is TYPE.NAME, or data.TYPE.NAME for a data source.
func (r *Resource) Address() string {
	if r.Mode == "data" {
		return "data." + r.Type + "." + r.Name
	}
	return r.Type + "." + r.Name
}

// An Instance is one evaluation scope over a block body: a resource instance (with each.key /
// count.index set), a nested block of one, or an output.
type Instance struct {
	Key  cty.Value // the for_each key or count index; cty.NilVal for a single instance
	Body *hclsyntax.Body

	eachValue cty.Value
	ctx       *hcl.EvalContext
}

// LoadModule parses every .tf file in dir and evaluates variables, locals, for_each and count.
// vars gives values for variables (required ones must be given).
func LoadModule(dir string, vars map[string]cty.Value) (*Module, error) {
	m := &Module{
		Dir:     dir,
		Vars:    map[string]cty.Value{},
		Locals:  map[string]cty.Value{},
		Outputs: map[string]*Instance{},
		blocks:  map[string][]*hclsyntax.Block{},
		refs:    map[string]*refNode{},
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, fmt.Errorf("list terraform files in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read terraform: %w", err)
		}
		f, diags := p.ParseHCL(src, name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", name, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		bodies = append(bodies, body)
		for _, b := range body.Blocks {
			m.blocks[b.Type] = append(m.blocks[b.Type], b)
		}
	}

	for _, b := range m.blocks["resource"] {
		if len(b.Labels) != 2 {
			return nil, fmt.Errorf("%s: resource block wants 2 labels", b.DefRange())
		}
		m.Resources = append(m.Resources, &Resource{Mode: "resource", Type: b.Labels[0], Name: b.Labels[1], Block: b})
	}
	for _, b := range m.blocks["data"] {
		if len(b.Labels) != 2 {
			return nil, fmt.Errorf("%s: data block wants 2 labels", b.DefRange())
		}
		m.Resources = append(m.Resources, &Resource{Mode: "data", Type: b.Labels[0], Name: b.Labels[1], Block: b})
	}

	if err := m.loadVariables(vars); err != nil {
		return nil, err
	}
	for _, body := range bodies {
		m.collectRefs(body)
	}
	if err := m.evaluate(); err != nil {
		return nil, err
	}
	for _, r := range m.Resources {
		for _, in := range r.Instances {
			m.scope(in)
		}
	}
	for _, b := range m.blocks["output"] {
		m.Outputs[b.Labels[0]] = &Instance{Key: cty.NilVal, Body: b.Body, ctx: m.ctx}
	}
	return m, nil
}

func (m *Module) loadVariables(given map[string]cty.Value) error {
	for _, b := range m.blocks["variable"] {
		name := b.Labels[0]
		if v, ok := given[name]; ok {
			m.Vars[name] = v
			continue
		}
		def, ok := b.Body.Attributes["default"]
		if !ok {
			return fmt.Errorf("variable %q has no default and no value was given", name)
		}
		v, diags := def.Expr.Value(nil)
		if diags.HasErrors() {
			return fmt.Errorf("variable %q: default is not a constant: %s", name, diags.Error())
		}
		m.Vars[name] = v
	}
	for name := range given {
		if _, ok := m.Vars[name]; !ok {
			return fmt.Errorf("value given for undeclared variable %q", name)
		}
	}
	return nil
}

// resourceAddress splits a traversal into a resource address and the rest, or returns "".
func (m *Module) resourceAddress(t hcl.Traversal) (string, hcl.Traversal) {
	root := t.RootName()
	n := 2
	if root == "data" {
		n = 3
	}
	if len(t) < n {
		return "", nil
	}
	parts := []string{root}
	for _, step := range t[1:n] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			return "", nil
		}
		parts = append(parts, a.Name)
	}
	addr := strings.Join(parts, ".")
	for _, r := range m.Resources {
		if r.Address() == addr {
			return addr, t[n:]
		}
	}
	return "", nil
}

// collectRefs records, for every resource address, the attribute paths that the configuration
// reads from it, so that placeholders exist for exactly those.
func (m *Module) collectRefs(body *hclsyntax.Body) {
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ScopeTraversalExpr:
			if addr, rest := m.resourceAddress(e.Traversal); addr != "" {
				m.ref(addr).add(rest)
			}
		case *hclsyntax.RelativeTraversalExpr:
			// TYPE.NAME[expr].attr: the index is dynamic, the attributes apply to every instance.
			if ix, ok := e.Source.(*hclsyntax.IndexExpr); ok {
				if st, ok := ix.Collection.(*hclsyntax.ScopeTraversalExpr); ok {
					if addr, rest := m.resourceAddress(st.Traversal); addr != "" && len(rest) == 0 {
						m.ref(addr).elem(-1).add(e.Traversal)
					}
				}
			}
		}
		return nil
	})
}

func (m *Module) ref(addr string) *refNode { return child(&m.refs, addr) }

// refNode is a tree of referenced attribute paths. elems[-1] holds paths read through a
// dynamic index (they apply to every element).
type refNode struct {
	attrs map[string]*refNode
	elems map[int]*refNode
	keys  map[string]*refNode
}

func (n *refNode) attr(name string) *refNode { return child(&n.attrs, name) }
func (n *refNode) elem(i int) *refNode       { return child(&n.elems, i) }
func (n *refNode) key(k string) *refNode     { return child(&n.keys, k) }

// child returns the node under k in *m, adding it (and the map) when missing.
func child[K comparable](m *map[K]*refNode, k K) *refNode {
	if *m == nil {
		*m = map[K]*refNode{}
	}
	if (*m)[k] == nil {
		(*m)[k] = &refNode{}
	}
	return (*m)[k]
}

func (n *refNode) add(t hcl.Traversal) {
	cur := n
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseAttr:
			cur = cur.attr(s.Name)
		case hcl.TraverseIndex:
			switch s.Key.Type() {
			case cty.Number:
				i, _ := s.Key.AsBigFloat().Int64()
				cur = cur.elem(int(i))
			case cty.String:
				cur = cur.key(s.Key.AsString())
			default:
				return
			}
		default:
			return
		}
	}
}

// value turns the tree into a placeholder value named by prefix.
func (n *refNode) value(prefix string) cty.Value {
	if n == nil || (len(n.attrs) == 0 && len(n.elems) == 0 && len(n.keys) == 0) {
		return cty.StringVal("${" + prefix + "}")
	}
	if len(n.attrs) > 0 {
		if len(n.elems) > 0 || len(n.keys) > 0 {
			return cty.DynamicVal
		}
		obj := map[string]cty.Value{}
		for name, c := range n.attrs {
			obj[name] = c.value(prefix + "." + name)
		}
		return cty.ObjectVal(obj)
	}
	if len(n.keys) > 0 {
		if len(n.elems) > 0 {
			return cty.DynamicVal
		}
		obj := map[string]cty.Value{}
		for k, c := range n.keys {
			obj[k] = c.value(fmt.Sprintf("%s[%q]", prefix, k))
		}
		return cty.ObjectVal(obj)
	}
	max := -1
	for i := range n.elems {
		if i > max {
			max = i
		}
	}
	if max < 0 { // only dynamic-index reads: a one-element list stands in
		return cty.TupleVal([]cty.Value{n.elems[-1].value(prefix + "[0]")})
	}
	elems := make([]cty.Value, max+1)
	for i := range elems {
		c := n.elems[i]
		if c == nil {
			c = n.elems[-1]
		}
		elems[i] = c.value(fmt.Sprintf("%s[%d]", prefix, i))
	}
	return cty.TupleVal(elems)
}

// instanceValue is the placeholder object of one instance: every top-level argument of the
// block plus every attribute the configuration reads from it.
func (m *Module) instanceValue(r *Resource, prefix string, viaIndex bool) cty.Value {
	n := &refNode{}
	for name := range r.Block.Body.Attributes {
		if !metaArguments[name] {
			n.attr(name)
		}
	}
	merge := func(src *refNode) {
		if src == nil {
			return
		}
		var walk func(dst, src *refNode)
		walk = func(dst, src *refNode) {
			for k, c := range src.attrs {
				walk(dst.attr(k), c)
			}
			for i, c := range src.elems {
				walk(dst.elem(i), c)
			}
			for k, c := range src.keys {
				walk(dst.key(k), c)
			}
		}
		walk(n, src)
	}
	ref := m.refs[r.Address()]
	if ref != nil {
		if viaIndex {
			for _, c := range ref.elems {
				merge(c)
			}
			for _, c := range ref.keys {
				merge(c)
			}
		} else {
			merge(ref)
		}
	}
	return n.value(prefix)
}

func (m *Module) context() *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(m.Vars),
		"local": cty.ObjectVal(m.Locals),
		"path": cty.ObjectVal(map[string]cty.Value{
			"module": cty.StringVal(m.Dir),
			"root":   cty.StringVal(m.Dir),
			"cwd":    cty.StringVal(m.Dir),
		}),
	}
	byType := map[string]map[string]cty.Value{}
	data := map[string]map[string]cty.Value{}
	for _, r := range m.Resources {
		if r.Instances == nil {
			continue
		}
		var v cty.Value
		switch {
		case len(r.Instances) == 1 && r.Instances[0].Key == cty.NilVal:
			v = m.instanceValue(r, r.Address(), false)
		case len(r.Instances) > 0 && r.Instances[0].Key.Type() == cty.Number:
			elems := make([]cty.Value, len(r.Instances))
			for i := range r.Instances {
				elems[i] = m.instanceValue(r, fmt.Sprintf("%s[%d]", r.Address(), i), true)
			}
			v = cty.TupleVal(elems)
		default:
			obj := map[string]cty.Value{}
			for _, in := range r.Instances {
				k := in.Key.AsString()
				obj[k] = m.instanceValue(r, fmt.Sprintf("%s[%q]", r.Address(), k), true)
			}
			v = cty.ObjectVal(obj)
		}
		target := byType
		if r.Mode == "data" {
			target = data
		}
		if target[r.Type] == nil {
			target[r.Type] = map[string]cty.Value{}
		}
		target[r.Type][r.Name] = v
	}
	for typ, byName := range byType {
		vars[typ] = cty.ObjectVal(byName)
	}
	if len(data) > 0 {
		d := map[string]cty.Value{}
		for typ, byName := range data {
			d[typ] = cty.ObjectVal(byName)
		}
		vars["data"] = cty.ObjectVal(d)
	}
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

// evaluate computes locals and instance keys in rounds until nothing more can be computed.
func (m *Module) evaluate() error {
	pending := map[string]hcl.Expression{}
	for _, b := range m.blocks["locals"] {
		for name, a := range b.Body.Attributes {
			if _, dup := pending[name]; dup {
				return fmt.Errorf("local %q defined twice", name)
			}
			pending[name] = a.Expr
		}
	}
	lastErr := map[string]string{}
	for {
		progress := false
		m.ctx = m.context()
		for name, expr := range pending {
			v, diags := expr.Value(m.ctx)
			if diags.HasErrors() {
				lastErr["local."+name] = diags.Error()
				continue
			}
			m.Locals[name] = v
			delete(pending, name)
			progress = true
		}
		m.ctx = m.context()
		for _, r := range m.Resources {
			if r.Instances != nil {
				continue
			}
			ins, err := m.expand(r)
			if err != nil {
				lastErr[r.Address()] = err.Error()
				continue
			}
			r.Instances = ins
			progress = true
		}
		if !progress {
			break
		}
	}
	m.ctx = m.context()
	var problems []string
	for name := range pending {
		problems = append(problems, "local."+name+": "+lastErr["local."+name])
	}
	for _, r := range m.Resources {
		if r.Instances == nil {
			problems = append(problems, r.Address()+": "+lastErr[r.Address()])
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("cannot evaluate %s", strings.Join(problems, "; "))
	}
	return nil
}

// expand evaluates for_each or count of r.
func (m *Module) expand(r *Resource) ([]*Instance, error) {
	if a, ok := r.Block.Body.Attributes["for_each"]; ok {
		v, diags := a.Expr.Value(m.ctx)
		if diags.HasErrors() {
			return nil, diags
		}
		if !v.IsWhollyKnown() {
			return nil, fmt.Errorf("for_each is not known")
		}
		ins := []*Instance{}
		switch {
		case v.Type().IsSetType() || v.Type().IsListType() || v.Type().IsTupleType():
			if !v.Type().IsSetType() {
				return nil, fmt.Errorf("for_each wants a map or a set, not a list")
			}
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.Type() != cty.String {
					return nil, fmt.Errorf("for_each set elements must be strings")
				}
				if strings.Contains(e.AsString(), "${") {
					return nil, fmt.Errorf("for_each key %q depends on a value known only after apply", e.AsString())
				}
				ins = append(ins, m.instance(r, e, e))
			}
		case v.Type().IsMapType() || v.Type().IsObjectType():
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				if strings.Contains(k.AsString(), "${") {
					return nil, fmt.Errorf("for_each key %q depends on a value known only after apply", k.AsString())
				}
				ins = append(ins, m.instance(r, k, e))
			}
		default:
			return nil, fmt.Errorf("for_each is a %s", v.Type().FriendlyName())
		}
		return ins, nil
	}
	if a, ok := r.Block.Body.Attributes["count"]; ok {
		v, diags := a.Expr.Value(m.ctx)
		if diags.HasErrors() {
			return nil, diags
		}
		if !v.IsKnown() || v.Type() != cty.Number {
			return nil, fmt.Errorf("count is not a known number")
		}
		n, _ := v.AsBigFloat().Int64()
		ins := []*Instance{}
		for i := int64(0); i < n; i++ {
			ins = append(ins, m.instance(r, cty.NumberIntVal(i), cty.NilVal))
		}
		return ins, nil
	}
	return []*Instance{{Key: cty.NilVal, Body: r.Block.Body}}, nil
}

func (m *Module) instance(r *Resource, key, value cty.Value) *Instance {
	return &Instance{Key: key, Body: r.Block.Body, eachValue: value}
}

// Find returns the resource (mode "resource" or "data") with this type and name, or nil.
func (m *Module) Find(mode, typ, name string) *Resource {
	for _, r := range m.Resources {
		if r.Mode == mode && r.Type == typ && r.Name == name {
			return r
		}
	}
	return nil
}

// OfType returns every managed resource of typ.
func (m *Module) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range m.Resources {
		if r.Mode == "resource" && r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// scope returns the evaluation context of an instance of a resource of m.
func (m *Module) scope(in *Instance) *hcl.EvalContext {
	if in.ctx != nil {
		return in.ctx
	}
	ctx := m.ctx
	if in.Key != cty.NilVal {
		ctx = m.ctx.NewChild()
		if in.Key.Type() == cty.Number {
			ctx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": in.Key})}
		} else {
			ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": in.Key, "value": in.eachValue})}
		}
	}
	in.ctx = ctx
	return ctx
}

// Attr evaluates the argument name of the instance's body. ok is false when it is absent.
func (in *Instance) Attr(name string) (v cty.Value, ok bool, err error) {
	a, ok := in.Body.Attributes[name]
	if !ok {
		return cty.NilVal, false, nil
	}
	v, diags := a.Expr.Value(in.ctx)
	if diags.HasErrors() {
		return cty.NilVal, true, fmt.Errorf("%s: %s", a.SrcRange, diags.Error())
	}
	return v, true, nil
}

// String evaluates the argument name as a string; "" when it is absent or null.
func (in *Instance) String(name string) (string, error) {
	v, ok, err := in.Attr(name)
	if err != nil || !ok || v.IsNull() {
		return "", err
	}
	if !v.IsKnown() {
		return "", fmt.Errorf("%s is not known", name)
	}
	if v.Type() == cty.Bool {
		return strconv.FormatBool(v.True()), nil
	}
	if v.Type() == cty.Number {
		return v.AsBigFloat().Text('f', -1), nil
	}
	if v.Type() != cty.String {
		return "", fmt.Errorf("%s is a %s, not a string", name, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

// StringMap evaluates the argument name as a map of strings.
func (in *Instance) StringMap(name string) (map[string]string, error) {
	v, ok, err := in.Attr(name)
	if err != nil || !ok || v.IsNull() {
		return nil, err
	}
	if !v.CanIterateElements() {
		return nil, fmt.Errorf("%s is a %s, not a map", name, v.Type().FriendlyName())
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.Type() != cty.String || !e.IsKnown() || e.IsNull() {
			return nil, fmt.Errorf("%s[%s] is not a known string", name, k.GoString())
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
}

// Blocks returns the nested blocks of type typ, with dynamic blocks expanded.
func (in *Instance) Blocks(typ string) ([]*Instance, error) {
	var out []*Instance
	for _, b := range in.Body.Blocks {
		switch {
		case b.Type == typ:
			out = append(out, &Instance{Key: cty.NilVal, Body: b.Body, ctx: in.ctx})
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == typ:
			iter := typ
			if a, ok := b.Body.Attributes["iterator"]; ok {
				iter = hcl.ExprAsKeyword(a.Expr)
			}
			fe, ok := b.Body.Attributes["for_each"]
			if !ok {
				return nil, fmt.Errorf("%s: dynamic %q has no for_each", b.DefRange(), typ)
			}
			v, diags := fe.Expr.Value(in.ctx)
			if diags.HasErrors() {
				return nil, fmt.Errorf("%s: %s", b.DefRange(), diags.Error())
			}
			var content *hclsyntax.Body
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					content = c.Body
				}
			}
			if content == nil {
				return nil, fmt.Errorf("%s: dynamic %q has no content", b.DefRange(), typ)
			}
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				ctx := in.ctx.NewChild()
				ctx.Variables = map[string]cty.Value{iter: cty.ObjectVal(map[string]cty.Value{"key": k, "value": e})}
				out = append(out, &Instance{Key: k, Body: content, ctx: ctx})
			}
		}
	}
	return out, nil
}

// Block returns the single nested block of type typ, or an error if there is not exactly one.
func (in *Instance) Block(typ string) (*Instance, error) {
	bs, err := in.Blocks(typ)
	if err != nil {
		return nil, err
	}
	if len(bs) != 1 {
		return nil, fmt.Errorf("want one %q block, have %d", typ, len(bs))
	}
	return bs[0], nil
}

// Instance returns r's instance whose key is key as text (KeyString), or nil.
func (r *Resource) Instance(key string) *Instance {
	for _, in := range r.Instances {
		if in.KeyString() == key {
			return in
		}
	}
	return nil
}

// KeyString is the instance key as text: the for_each key, the count index, or "".
func (in *Instance) KeyString() string {
	switch {
	case in.Key == cty.NilVal:
		return ""
	case in.Key.Type() == cty.String:
		return in.Key.AsString()
	case in.Key.Type() == cty.Number:
		return in.Key.AsBigFloat().Text('f', -1)
	}
	return in.Key.GoString()
}

// metaArguments are Terraform's own arguments, not attributes of the resource.
var metaArguments = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

var functions = map[string]function.Function{
	"alltrue":      allTrueFunc,
	"base64encode": base64EncodeFunc,
	"file":         fileFunc,
	"coalesce":     stdlib.CoalesceFunc,
	"compact":      stdlib.CompactFunc,
	"concat":       stdlib.ConcatFunc,
	"contains":     stdlib.ContainsFunc,
	"flatten":      stdlib.FlattenFunc,
	"floor":        stdlib.FloorFunc,
	"format":       stdlib.FormatFunc,
	"join":         stdlib.JoinFunc,
	"jsondecode":   stdlib.JSONDecodeFunc,
	"jsonencode":   stdlib.JSONEncodeFunc,
	"keys":         stdlib.KeysFunc,
	"length":       stdlib.LengthFunc,
	"lookup":       stdlib.LookupFunc,
	"merge":        stdlib.MergeFunc,
	"regex":        stdlib.RegexFunc,
	"replace":      stdlib.ReplaceFunc,
	"setproduct":   stdlib.SetProductFunc,
	"sort":         stdlib.SortFunc,
	"split":        stdlib.SplitFunc,
	"trimspace":    stdlib.TrimSpaceFunc,
	"toset":        stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tolist":       stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tostring":     stdlib.MakeToFunc(cty.String),
	"try":          tryfunc.TryFunc,
	"can":          tryfunc.CanFunc,
}

var base64EncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

// fileFunc reads a file; relative paths are relative to the working directory, as in
// Terraform (configurations write "${path.module}/name").
var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := os.ReadFile(args[0].AsString())
		if err != nil {
			return cty.NilVal, fmt.Errorf("file: %w", err)
		}
		return cty.StringVal(string(b)), nil
	},
})

var allTrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			if !v.IsKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			if v.IsNull() || v.False() {
				return cty.False, nil
			}
		}
		return cty.True, nil
	},
})
