package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

// printJSON writes v indented.
func (e *env) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.Stdout, string(b))
	return err
}

// names returns name(item) for each of items, in order (nil for none).
func names[T any](items []T, name func(T) string) []string {
	var out []string
	for _, x := range items {
		out = append(out, name(x))
	}
	return out
}

func listTypesCommand() *command {
	return &command{
		Name:    "list-types",
		Summary: "List the connector types, their resource types and auth methods",
		Help: `
--detailed also shows every resource type's accepted id formats and every auth method's
configuration fields (secret fields marked) and token lifetimes.

Examples:
  gcpconn list-types --type gcp
  gcpconn list-types --auth-method impersonation --detailed
  gcpconn list-types -o json`,
		Flags: []flagSpec{
			{Name: "type", Short: "t", Value: "TYPE", Help: "only this connector type (gcp)"},
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: "only types serving this resource type"},
			{Name: "auth-method", Short: "a", Value: "METHOD", Help: "only types with this auth method"},
			{Name: "detailed", Short: "d", Help: "describe resource types and auth methods"},
		},
		Run: runListTypes,
	}
}

func runListTypes(ctx context.Context, e *env, p *parsed) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	types, err := c.Types(ctx)
	if err != nil {
		return err
	}
	var out []client.TypeSpec
	for _, t := range types {
		if v := p.str("type"); v != "" && t.ConnectorType != v {
			continue
		}
		if v := p.str("resource-type"); v != "" {
			if t.ResourceTypes = slices.DeleteFunc(slices.Clone(t.ResourceTypes), func(r client.ResourceTypeSpec) bool { return r.ResourceType != v }); len(t.ResourceTypes) == 0 {
				continue
			}
		}
		if v := p.str("auth-method"); v != "" {
			if t.AuthMethods = slices.DeleteFunc(slices.Clone(t.AuthMethods), func(m client.AuthMethodSpec) bool { return m.AuthMethod != v }); len(t.AuthMethods) == 0 {
				continue
			}
		}
		out = append(out, t)
	}
	if e.json() {
		return e.printJSON(map[string]any{"connector_types": out})
	}
	if len(out) == 0 {
		fmt.Fprintln(e.Stdout, "No connector type matches the filters.")
		return nil
	}
	tb := &table{Headers: []string{"NAME", "TYPE", "RESOURCE TYPES", "AUTH METHODS"}}
	for _, t := range out {
		rts := names(t.ResourceTypes, func(r client.ResourceTypeSpec) string { return withEmoji(r.ResourceType) })
		ams := names(t.AuthMethods, func(m client.AuthMethodSpec) string { return m.AuthMethod })
		tb.Rows = append(tb.Rows, []string{t.Name, withEmoji(t.ConnectorType), strings.Join(rts, "\n"), strings.Join(ams, "\n")})
	}
	tb.render(e.Stdout)
	if p.bool("detailed") {
		printTypeDetails(e, out)
	}
	return nil
}

// printTypeDetails prints what list-types --detailed adds for each type: its resource types
// with their id formats, and its auth methods with their lifetimes and fields.
func printTypeDetails(e *env, out []client.TypeSpec) {
	for _, t := range out {
		fmt.Fprintf(e.Stdout, "\n%s (%s)\n%s\n", t.Name, t.ConnectorType, t.Description)
		for _, r := range t.ResourceTypes {
			fmt.Fprintf(e.Stdout, "\nResource type %s: %s\n%s\n", withEmoji(r.ResourceType), r.Name, r.Description)
			if r.SupportsInstances {
				fmt.Fprintln(e.Stdout, "Has instances; resource ids:")
			} else {
				fmt.Fprintln(e.Stdout, "One resource per connector; resource id:")
			}
			for _, f := range r.IDFormats {
				fmt.Fprintf(e.Stdout, "  %s\n", f)
			}
		}
		for _, m := range t.AuthMethods {
			fmt.Fprintf(e.Stdout, "\nAuth method %s: %s\n%s\n", m.AuthMethod, m.Name, m.Description)
			if m.DefaultExpirationSeconds != nil {
				fmt.Fprintf(e.Stdout, "Token lifetime: default %s, min %s, max %s\n",
					secs(m.DefaultExpirationSeconds), secs(m.MinExpirationSeconds), secs(m.MaxExpirationSeconds))
			}
			if m.RequiresExpiresAt {
				fmt.Fprintln(e.Stdout, "Requires --expires-at (when the configured token expires).")
			}
			fields := schemaFields(m.ConfigSchema)
			ft := &table{Headers: []string{"FIELD", "REQUIRED", "SECRET", "DESCRIPTION"}, Ruled: true}
			for _, f := range fields {
				ft.Rows = append(ft.Rows, []string{f.Name, yesIf(f.Required), yesIf(f.Secret), f.Description})
			}
			ft.render(e.Stdout)
		}
	}
}

func secs(p *int) string {
	if p == nil {
		return "N/A"
	}
	return (time.Duration(*p) * time.Second).String()
}

// yesIf is "yes" when b holds, else blank: a table column that marks the rows where b does.
func yesIf(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// schemaField is one property of an auth method's configuration schema.
type schemaField struct {
	Name, Title, Description, Type string
	Required, Secret, Bool         bool
	Const                          any
}

// schemaFields lists the properties of a config schema: required ones first, then by name.
func schemaFields(schema map[string]any) []schemaField {
	props, _ := schema["properties"].(map[string]any)
	req := map[string]bool{}
	if rs, ok := schema["required"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				req[s] = true
			}
		}
	}
	var out []schemaField
	for name, v := range props {
		m, _ := v.(map[string]any)
		f := schemaField{Name: name, Required: req[name], Const: m["const"]}
		f.Title, _ = m["title"].(string)
		f.Description, _ = m["description"].(string)
		f.Secret = m["format"] == "password" || m["writeOnly"] == true
		f.Type, _ = m["type"].(string)
		f.Bool = f.Type == "boolean"
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Required != out[j].Required {
			return out[i].Required
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func listCommand() *command {
	return &command{
		Name:    "list",
		Summary: "List the connectors you may see",
		Help: `
Examples:
  gcpconn list
  gcpconn list --name gcp-user-account
  gcpconn list --resource-type gcs-bucket --label team=ml
  gcpconn list -o json`,
		Flags: []flagSpec{
			{Name: "name", Value: "NAME", Help: "only the connector with this name"},
			{Name: "auth-method", Short: "a", Value: "METHOD", Help: "only connectors with this auth method"},
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: "only connectors serving this resource type"},
			{Name: "label", Short: "l", Value: "KEY[=VALUE]", Repeat: true, Help: "only connectors with this label"},
		},
		Run: runList,
	}
}

func runList(ctx context.Context, e *env, p *parsed) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	cs, err := c.ListAll(ctx, client.Filter{Name: p.str("name"), AuthMethod: p.str("auth-method"),
		ResourceType: p.str("resource-type"), Labels: p.all("label")})
	if err != nil {
		return err
	}
	if e.json() {
		if cs == nil {
			cs = []client.Connector{}
		}
		return e.printJSON(map[string]any{"connectors": cs})
	}
	if len(cs) == 0 {
		fmt.Fprintln(e.Stdout, "No connectors found.")
		return nil
	}
	tb := &table{Headers: []string{"NAME", "ID", "TYPE", "RESOURCE TYPES", "RESOURCE NAME", "SHARED", "OWNER", "EXPIRES IN", "LABELS", "STATUS"}, Ruled: true}
	for _, conn := range cs {
		tb.Rows = append(tb.Rows, []string{conn.Name, conn.ID, withEmoji(conn.Type), resourceTypesCell(conn.ResourceTypes, "\n"),
			resourceName(conn), shared(conn), conn.Owner, expiresIn(conn.ExpiresAt, e.Now()), labelsCell(conn.Labels), statusCell(conn.Status)})
	}
	tb.render(e.Stdout)
	return nil
}

func resourceTypesCell(rts []string, sep string) string {
	out := make([]string, len(rts))
	for i, r := range rts {
		out[i] = withEmoji(r)
	}
	return strings.Join(out, sep)
}

func resourceName(c client.Connector) string {
	if c.ResourceID != "" {
		return c.ResourceID
	}
	return "<multiple>"
}

func shared(c client.Connector) string {
	if len(c.Users) > 0 {
		return "✅"
	}
	return "➖"
}

func expiresIn(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "expired"
	}
	return d.String()
}

func labelsCell(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return strings.Join(out, "\n")
}

func statusCell(s client.Status) string {
	switch s.State {
	case "":
		return "unchecked"
	case "ok":
		return "✅ ok"
	}
	if len(s.FailingResourceTypes) > 0 {
		return "💥 " + s.State + ": " + strings.Join(s.FailingResourceTypes, ", ") + " failed"
	}
	return "💥 " + s.State
}

func describeCommand() *command {
	return &command{
		Name:    "describe",
		Args:    "NAME",
		Summary: "Show a connector's properties and configuration (secret values are never shown)",
		Help: `
The server never returns secret values: secret fields are listed as [HIDDEN].

Examples:
  gcpconn describe gcp-service-account
  gcpconn describe 4b3d41c9c2e7 -o json`,
		Run: runDescribe,
	}
}

func oneName(p *parsed, what string) (string, error) {
	if len(p.Pos) != 1 {
		return "", usageErrorf("name one %s (got %d arguments)", what, len(p.Pos))
	}
	return p.Pos[0], nil
}

// connectorClient is the preamble of the commands that act on one connector: the NAME
// argument and the API client.
func (e *env) connectorClient(p *parsed) (string, *client.Client, error) {
	name, err := oneName(p, "connector")
	if err != nil {
		return "", nil, err
	}
	c, err := e.client()
	if err != nil {
		return "", nil, err
	}
	return name, c, nil
}

// onConnector runs a command that makes one call on the connector NAME names: call, then its
// answer printed as the JSON value asJSON makes of it with -o json, or as text.
func onConnector[T any](ctx context.Context, e *env, p *parsed, call func(c *client.Client, ctx context.Context, name string) (T, error),
	asJSON func(name string, res T) any, text func(name string, res T)) error {
	name, c, err := e.connectorClient(p)
	if err != nil {
		return err
	}
	res, err := call(c, ctx, name)
	if err != nil {
		return err
	}
	if e.json() {
		return e.printJSON(asJSON(name, res))
	}
	text(name, res)
	return nil
}

func runDescribe(ctx context.Context, e *env, p *parsed) error {
	return onConnector(ctx, e, p, (*client.Client).Describe,
		func(_ string, conn *client.Connector) any { return map[string]any{"connector": conn} },
		func(_ string, conn *client.Connector) { describeConnector(e, *conn) })
}

// describeConnector prints the seed's two tables: details and configuration.
// secretCell says where a connector's secret lives (never its value): the secret and the
// pinned version; empty for auth methods that store none, as on the product page.
func secretCell(s *client.SecretLocation) string {
	if s == nil {
		return ""
	}
	return s.Name + " (version " + s.Version + ")"
}

func describeConnector(e *env, conn client.Connector) {
	sharing := "private"
	if len(conn.Users) > 0 {
		sharing = fmt.Sprintf("shared with %d user(s)", len(conn.Users))
	}
	fmt.Fprintf(e.Stdout, "Service connector '%s' of type '%s' with id '%s' is owned by user '%s' and is '%s'.\n",
		conn.Name, conn.Type, conn.ID, conn.Owner, sharing)
	session := "N/A"
	if conn.ExpirationSeconds > 0 {
		session = (time.Duration(conn.ExpirationSeconds) * time.Second).String()
	}
	exp := "N/A"
	if conn.ExpiresAt != nil {
		exp = expiresIn(conn.ExpiresAt, e.Now())
	}
	status := statusCell(conn.Status)
	if conn.Status.CheckedAt != nil {
		status += " (checked " + conn.Status.CheckedAt.UTC().Format(time.DateTime) + ")"
	}
	if conn.Status.Error != "" {
		status += "\n" + conn.Status.Error
	}
	if conn.Status.RotationDue {
		status += "\nrotation due"
	}
	users := strings.Join(conn.Users, "\n")
	if users == "" {
		users = "➖"
	}
	rows := [][]string{
		{"ID", conn.ID},
		{"NAME", conn.Name},
		{"TYPE", withEmoji(conn.Type)},
		{"AUTH METHOD", conn.AuthMethod},
		{"RESOURCE TYPES", resourceTypesCell(conn.ResourceTypes, ", ")},
		{"RESOURCE NAME", resourceName(conn)},
		{"SECRET ID", secretCell(conn.Secret)},
		{"SESSION DURATION", session},
		{"EXPIRES IN", exp},
		{"OWNER", conn.Owner},
		{"SHARED", users},
		{"LABELS", labelsCell(conn.Labels)},
		{"DESCRIPTION", conn.Description},
		{"STATUS", status},
	}
	rows = append(rows, rotationRows(conn.Rotation, e.Now())...)
	rows = append(rows, [][]string{
		{"CREATED_AT", conn.CreatedAt.UTC().Format("2006-01-02 15:04:05.000000")},
		{"UPDATED_AT", conn.UpdatedAt.UTC().Format("2006-01-02 15:04:05.000000")},
	}...)
	(&table{Title: fmt.Sprintf("'%s' %s Service Connector Details", conn.Name, conn.Type), Headers: []string{"PROPERTY", "VALUE"}, Rows: rows, Ruled: true}).render(e.Stdout)
	cfg := &table{Title: "Configuration", Headers: []string{"PROPERTY", "VALUE"}, Ruled: true}
	keys := make([]string, 0, len(conn.Configuration)+len(conn.Secrets))
	vals := map[string]string{}
	for k, v := range conn.Configuration {
		keys = append(keys, k)
		vals[k] = configValue(v)
	}
	for _, s := range conn.Secrets {
		if _, dup := vals[s]; !dup {
			keys = append(keys, s)
		}
		vals[s] = "[HIDDEN]"
	}
	sort.Strings(keys)
	for _, k := range keys {
		cfg.Rows = append(cfg.Rows, []string{k, vals[k]})
	}
	cfg.render(e.Stdout)
}

func configValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case []any:
		s := make([]string, len(x))
		for i, y := range x {
			s[i] = configValue(y)
		}
		return strings.Join(s, "\n")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// rotationRows are describe's rows of a connector that rotates its key: the pinned key's id
// (never its material) and age, the period and the next rotation; none without rotation.
func rotationRows(r *client.Rotation, now time.Time) [][]string {
	if r == nil {
		return nil
	}
	key := r.KeyID
	if r.KeyCreatedAt != nil {
		key += " (" + ageCell(now.Sub(*r.KeyCreatedAt)) + " old)"
	}
	period, next := "off", "N/A"
	if r.Period != "" {
		period = "every " + r.Period
	}
	if r.NextRotationAt != nil {
		next = r.NextRotationAt.UTC().Format(time.DateTime)
	}
	if r.InProgress && r.State == "verifying" {
		next += " (a new key is stored and being verified; rotate again or wait for sweep to pin it)"
	} else if r.InProgress {
		next += " (a rotation is in progress)"
	}
	if r.LastError != "" {
		next += "\n" + r.LastError
	}
	return [][]string{{"KEY ID", key}, {"KEY ROTATION", period}, {"NEXT ROTATION", next}}
}

// ageCell renders an age in days, or hours and minutes below a day.
func ageCell(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 0:
		return "0m"
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}

func rotateCommand() *command {
	return &command{
		Name:    "rotate",
		Args:    "NAME",
		Summary: "Replace a connector's service-account key now",
		Help: `
Creates a new key for the connector's service account through the IAM API, stores it as a
new secret version, verifies it and pins it; the replaced key is deleted by sweep after a
2-hour grace (longer than any token minted from it). Only the owner and admins may rotate;
only service-account connectors and impersonation connectors with a source key can.
Prints the new key's id, never its material. Exits with 3 when the connector cannot rotate
(the account has 10 keys, the new key failed verification: the old one stays pinned).

Example:
  gcpconn rotate gcp-service-account`,
		Run: runRotate,
	}
}

func runRotate(ctx context.Context, e *env, p *parsed) error {
	return onConnector(ctx, e, p, (*client.Client).Rotate,
		func(_ string, res *client.RotateResult) any { return res },
		func(name string, res *client.RotateResult) {
			if res.Rotated {
				fmt.Fprintf(e.Stdout, "Rotated the key of service connector `%s`: key %s is pinned.\n", name, res.KeyID)
			} else {
				fmt.Fprintf(e.Stdout, "A key rotation of service connector `%s` is already in progress; key %s is pinned until it ends.\n", name, res.KeyID)
			}
		})
}

func deleteCommand() *command {
	return &command{
		Name:    "delete",
		Args:    "NAME",
		Summary: "Delete a connector and its stored secret",
		Help: `
Only the owner and admins may delete a connector. Tokens already handed out stay valid until
they expire (at most an hour); no new ones are minted.

Example:
  gcpconn delete gcp-service-account`,
		Run: runDelete,
	}
}

func runDelete(ctx context.Context, e *env, p *parsed) error {
	deleteConnector := func(c *client.Client, ctx context.Context, name string) (struct{}, error) {
		return struct{}{}, c.Delete(ctx, name)
	}
	return onConnector(ctx, e, p, deleteConnector,
		func(name string, _ struct{}) any { return map[string]any{"deleted": name} },
		func(name string, _ struct{}) { fmt.Fprintf(e.Stdout, "Deleted service connector `%s`.\n", name) })
}

func verifyCommand() *command {
	return &command{
		Name:    "verify",
		Args:    "NAME",
		Summary: "Check a connector's credentials and list the resources it reaches",
		Help: `
Exits with 8 when the check reports an error (for the connector as a whole or for a
resource type).

Examples:
  gcpconn verify gcp-user-account --resource-type kubernetes-cluster
  gcpconn verify gcp-user-account --resource-type docker-registry --resource-id europe-west1-docker.pkg.dev/zenml-core/test
  gcpconn verify gcp-empty-sa --verify-only`,
		Flags: []flagSpec{
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: "check only this resource type"},
			{Name: "resource-id", Value: "ID", Help: "check only this resource"},
			{Name: "verify-only", Short: "v", Help: "check authentication only; do not list resources"},
			subjectTokenFlag,
		},
		Run: runVerify,
	}
}

func runVerify(ctx context.Context, e *env, p *parsed) error {
	name, c, err := e.connectorClient(p)
	if err != nil {
		return err
	}
	req := client.VerifyRequest{Connector: name, ResourceType: p.str("resource-type"), ResourceID: p.str("resource-id")}
	if req.SubjectToken, err = subjectToken(e, p); err != nil {
		return err
	}
	if p.bool("verify-only") {
		f := false
		req.ListResources = &f
	}
	res, err := c.Verify(ctx, req)
	if err != nil {
		return err
	}
	if e.json() {
		if err := e.printJSON(res); err != nil {
			return err
		}
	} else if !res.HasErrors() {
		fmt.Fprintf(e.Stdout, "Service connector '%s' is correctly configured with valid credentials and has access to the following resources:\n", name)
		resourcesTable(res).render(e.Stdout)
	} else if res.Error == "" && len(res.Resources) > 1 {
		fmt.Fprintf(e.Stdout, "Service connector '%s' has valid credentials but some resources are not accessible:\n", name)
		resourcesTable(res).render(e.Stdout)
	}
	if res.HasErrors() {
		return verifyErrorf("Service connector '%s' verification failed: %s", name, firstError(res))
	}
	return nil
}

func firstError(r *client.Resources) string {
	if r.Error != "" {
		return r.Error
	}
	var msgs []string
	for _, res := range r.Resources {
		if res.Error != "" {
			msgs = append(msgs, res.ResourceType+": "+res.Error)
		}
	}
	if len(msgs) == 1 && len(r.Resources) == 1 {
		return r.Resources[0].Error
	}
	return strings.Join(msgs, "; ")
}

// resourcesTable is the seed's RESOURCE TYPE | RESOURCE NAMES table.
func resourcesTable(r *client.Resources) *table {
	tb := &table{Headers: []string{"RESOURCE TYPE", "RESOURCE NAMES"}, Ruled: true}
	for _, res := range r.Resources {
		names := strings.Join(res.ResourceIDs, "\n")
		if res.Error != "" {
			names = "💥 error: " + res.Error
		} else if names == "" {
			names = "<none>"
		}
		tb.Rows = append(tb.Rows, []string{withEmoji(res.ResourceType), names})
	}
	return tb
}

func listResourcesCommand() *command {
	return &command{
		Name:    "list-resources",
		Summary: "List the resources every connector you may use can reach",
		Help: `
Verifies every connector you may see (four at a time) and shows what each reaches. Progress
goes to stderr. Exits with 8 when a connector reported an error (unless --exclude-errors).

Examples:
  gcpconn list-resources --resource-type gcs-bucket
  gcpconn list-resources --resource-type kubernetes-cluster --exclude-errors
  gcpconn list-resources --resource-type docker-registry --resource-id europe-west1-docker.pkg.dev/zenml-core/test`,
		Flags: []flagSpec{
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: "only this resource type"},
			{Name: "resource-id", Value: "ID", Help: "only connectors that reach this resource (needs --resource-type)"},
			{Name: "exclude-errors", Short: "e", Help: "leave out connectors that reported errors"},
		},
		Run: runListResources,
	}
}

// connectorResources is one connector's row of list-resources.
type connectorResources struct {
	ConnectorID   string                  `json:"connector_id"`
	ConnectorName string                  `json:"connector_name"`
	ConnectorType string                  `json:"connector_type"`
	Resources     []client.ResourceResult `json:"resources"`
	Error         string                  `json:"error,omitempty"`
}

func runListResources(ctx context.Context, e *env, p *parsed) error {
	rt, rid := p.str("resource-type"), p.str("resource-id")
	if rid != "" && rt == "" {
		return usageErrorf("--resource-id needs --resource-type")
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	cs, err := c.ListAll(ctx, client.Filter{ResourceType: rt})
	if err != nil {
		return err
	}
	out := verifyAll(ctx, e, c, cs, rt, rid)
	var kept []connectorResources
	failed := 0
	for _, r := range out {
		bad := r.Error != ""
		for _, res := range r.Resources {
			bad = bad || res.Error != ""
		}
		if bad {
			failed++
			if p.bool("exclude-errors") {
				continue
			}
		}
		kept = append(kept, r)
	}
	if err := printResources(e, rt, kept); err != nil {
		return err
	}
	if failed > 0 && !p.bool("exclude-errors") {
		return verifyErrorf("%d of %d connectors reported errors", failed, len(cs))
	}
	return nil
}

// verifyAll verifies the connectors cs for resource type rt and id rid (either may be ""),
// four at a time, reporting progress on stderr, and returns what each reaches, in order.
func verifyAll(ctx context.Context, e *env, c *client.Client, cs []client.Connector, rt, rid string) []connectorResources {
	out := make([]connectorResources, len(cs))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
		sem  = make(chan struct{}, 4)
	)
	for i, conn := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := c.Verify(ctx, client.VerifyRequest{Connector: conn.ID, ResourceType: rt, ResourceID: rid})
			row := connectorResources{ConnectorID: conn.ID, ConnectorName: conn.Name, ConnectorType: conn.Type}
			switch {
			case err != nil:
				row.Error = err.Error()
			case res.Error != "":
				row.Error = res.Error
			default:
				row.Resources = res.Resources
			}
			out[i] = row
			mu.Lock()
			done++
			fmt.Fprintf(e.Stderr, "[%d/%d] verified %s\n", done, len(cs), conn.Name)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// printResources prints what the connectors kept reach (of resource type rt, "" for every
// type): as JSON, or as the product's table.
func printResources(e *env, rt string, kept []connectorResources) error {
	if e.json() {
		if kept == nil {
			kept = []connectorResources{}
		}
		return e.printJSON(map[string]any{"connectors": kept})
	}
	if len(kept) == 0 {
		fmt.Fprintln(e.Stdout, "No connector you may use reaches resources matching the filters.")
		return nil
	}
	what := "resources"
	if rt != "" {
		what = "'" + rt + "' resources"
	}
	fmt.Fprintf(e.Stdout, "The following %s can be accessed by service connectors that you have configured:\n", what)
	tb := &table{Headers: []string{"CONNECTOR ID", "CONNECTOR NAME", "CONNECTOR TYPE", "RESOURCE TYPE", "RESOURCE NAMES"}, Ruled: true}
	for _, r := range kept {
		if r.Error != "" {
			tb.Rows = append(tb.Rows, []string{r.ConnectorID, r.ConnectorName, withEmoji(r.ConnectorType), "", "💥 error: " + r.Error})
			continue
		}
		types := make([]string, len(r.Resources))
		names := make([]string, len(r.Resources))
		for i, res := range r.Resources {
			types[i] = withEmoji(res.ResourceType)
			names[i] = strings.Join(res.ResourceIDs, "\n")
			if res.Error != "" {
				names[i] = "💥 error: " + res.Error
			}
			// Align a type with the first of its names.
			types[i] += strings.Repeat("\n", strings.Count(names[i], "\n"))
		}
		tb.Rows = append(tb.Rows, []string{r.ConnectorID, r.ConnectorName, withEmoji(r.ConnectorType), strings.Join(types, "\n"), strings.Join(names, "\n")})
	}
	tb.render(e.Stdout)
	return nil
}
