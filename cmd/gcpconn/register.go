package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// configFlags are the flags register and update share.
var configFlags = []flagSpec{
	{Name: "auth-method", Short: "a", Value: "METHOD", Help: orList(configschema.Methods())},
	{Name: "resource-type", Short: "r", Value: "TYPE", Help: orList(resourceid.Types) + " (default: every type)"},
	{Name: "resource-id", Value: "ID", Help: "the one resource the connector serves (default: any of its type)"},
	{Name: "label", Short: "l", Value: "KEY=VALUE", Repeat: true, Help: "a label"},
	{Name: "description", Value: "TEXT", Help: "free text"},
	{Name: "user", Value: "PRINCIPAL", Repeat: true, Help: "a principal who may verify and mint (the owner always may): an email, NAME:SUBJECT of a trusted issuer, or NAME:PREFIX*"},
	{Name: "expires-at", Value: "TIME", Help: "when the configured credentials expire (RFC 3339 or 'YYYY-MM-DD HH:MM:SS' UTC; oauth2-token)"},
	{Name: "expiration-seconds", Value: "N", Help: "default lifetime of minted tokens"},
	{Name: "auto-configure", Help: "take the credentials and project from the local gcloud/ADC configuration"},
	{Name: "no-verify", Help: "store without checking the credentials"},
	{Name: "rotation-period", Value: "PERIOD", Help: "rotate the service-account key this often (30d, 720h; 1d to 365d; \"\" turns it off on update)"},
	subjectTokenFlag,
	{Name: "interactive", Short: "i", Help: "ask for everything on the terminal"},
}

const configHelp = `
Configuration fields are given as --key=value; --key=@FILE reads the value from FILE (e.g.
--service_account_json=@key.json). Run 'gcpconn list-types --auth-method METHOD --detailed'
for each method's fields.

--auto-configure reads the local Google credentials as gcloud leaves them
(GOOGLE_APPLICATION_CREDENTIALS, else $CLOUDSDK_CONFIG or ~/.config/gcloud
/application_default_credentials.json) and picks the auth method from the credential type:
authorized_user -> user-account, service_account -> service-account, external_account ->
external-account, impersonated_service_account with a service-account source ->
impersonation. The project comes from --project_id, GOOGLE_CLOUD_PROJECT, the key's
project_id, or gcloud's active configuration (core/project). With --auth-method oauth2-token
gcpconn instead gets a current access token locally (refresh grant or JWT-bearer at the
credentials' token endpoint) and sends only that token and its expiry; the refresh token or
key never leaves the machine for oauth2-token (pass --token=TOKEN --expires-at=TIME to give
a token yourself).`

func registerCommand() *command {
	return &command{
		Name:    "register",
		Args:    "NAME",
		Summary: "Register a connector (verified by the server unless --no-verify)",
		Help: configHelp + `

Exits with 8 when the connector was stored but its verification reported errors.

Examples:
  gcpconn register gcp-auto --type gcp --auto-configure
  gcpconn register gcp-service-account --type gcp --auth-method service-account \
      --resource-type gcs-bucket --project_id=zenml-core --service_account_json=@connectors-devel@zenml-core.json
  gcpconn register gcp-impersonate-sa --type gcp --auth-method impersonation \
      --service_account_json=@empty-connectors@zenml-core.json --project_id=zenml-core \
      --target_principal=zenml-bucket-sl@zenml-core.iam.gserviceaccount.com \
      --resource-type gcs-bucket --resource-id gs://zenml-bucket-sl
  gcpconn register gcp-oauth2-token --type gcp --auto-configure --auth-method oauth2-token
  gcpconn register -i --type gcp`,
		Flags:  append([]flagSpec{{Name: "type", Short: "t", Value: "TYPE", Help: "connector type (gcp)"}}, configFlags...),
		Extras: true,
		Run:    runRegister,
	}
}

// configuration turns the extra --key=value settings into configuration values: @FILE is
// read, generate_temporary_tokens is a boolean, delegates a comma-separated list.
func configuration(e *env, p *parsed) (map[string]any, error) {
	cfg := map[string]any{}
	for _, k := range p.extraKeys() {
		v := p.Extras[k]
		if path, ok := strings.CutPrefix(v, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, usageErrorf("--%s=@%s: %v", k, path, err)
			}
			fmt.Fprintf(e.Stderr, "Expanding argument value %s to contents of file %s.\n", k, path)
			v = strings.TrimRight(string(b), "\n")
		}
		val, err := configValueOf(k, v)
		if err != nil {
			return nil, err
		}
		cfg[k] = val
	}
	return cfg, nil
}

func configValueOf(k, v string) (any, error) {
	switch k {
	case "generate_temporary_tokens":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, usageErrorf("--%s must be true or false, not %q", k, v)
		}
		return b, nil
	case "delegates":
		var out []string
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, d)
			}
		}
		return out, nil
	}
	return v, nil
}

// parseTime accepts RFC 3339 and the seed's "YYYY-MM-DD HH:MM:SS" (UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		return time.Time{}, usageErrorf("time %q is neither RFC 3339 nor 'YYYY-MM-DD HH:MM:SS'", s)
	}
	return t.UTC(), nil
}

// configArgs are the settings register and update read alike from the command line.
type configArgs struct {
	Config            map[string]any // --key=value settings (configuration)
	Labels            map[string]string
	ExpiresAt         *time.Time
	ExpirationSeconds *int
}

// readConfigArgs reads the configuration, --label, --expires-at and --expiration-seconds.
func readConfigArgs(e *env, p *parsed) (configArgs, error) {
	var a configArgs
	var err error
	if a.Config, err = configuration(e, p); err != nil {
		return a, err
	}
	if a.Labels, err = keyValues("label", p.all("label")); err != nil {
		return a, err
	}
	if s := p.str("expires-at"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			return a, err
		}
		a.ExpiresAt = &t
	}
	if s := p.str("expiration-seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return a, usageErrorf("--expiration-seconds must be a positive number, not %q", s)
		}
		a.ExpirationSeconds = &n
	}
	return a, nil
}

func runRegister(ctx context.Context, e *env, p *parsed) error {
	if t := p.str("type"); t != "" && t != "gcp" {
		return usageErrorf("--type %q is not a connector type; the only type is gcp", t)
	}
	if len(p.Pos) > 1 {
		return usageErrorf("register takes one NAME, got %d arguments", len(p.Pos))
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	a, err := readConfigArgs(e, p)
	if err != nil {
		return err
	}
	req := client.RegisterRequest{
		Type: "gcp", AuthMethod: p.str("auth-method"), ResourceType: p.str("resource-type"), ResourceID: p.str("resource-id"),
		Configuration: a.Config, Labels: a.Labels, Description: p.str("description"), ExpiresAt: a.ExpiresAt,
		ExpirationSeconds: a.ExpirationSeconds, Users: p.all("user"),
	}
	if len(p.Pos) == 1 {
		req.Name = p.Pos[0]
	}
	if p.bool("interactive") {
		if err := interactive(ctx, e, c, p, &req); err != nil {
			return err
		}
	} else {
		if req.Name == "" {
			return usageErrorf("name the connector: gcpconn register NAME ...")
		}
		if p.bool("auto-configure") {
			if err := applyAutoConfig(ctx, e, &req.AuthMethod, req.Configuration, &req.ExpiresAt, p); err != nil {
				return err
			}
		}
		if req.AuthMethod == "" {
			return usageErrorf("--auth-method is required (or --auto-configure): one of implicit, user-account, service-account, external-account, oauth2-token, impersonation")
		}
	}
	if p.bool("no-verify") {
		f := false
		req.Verify = &f
	}
	if req.SubjectToken, err = subjectToken(e, p); err != nil {
		return err
	}
	req.RotationPeriod = p.str("rotation-period")
	conn, res, err := c.Register(ctx, req)
	if err != nil {
		return err
	}
	if e.json() {
		if err := e.printJSON(map[string]any{"connector": conn, "resources": res}); err != nil {
			return err
		}
	} else if res == nil {
		fmt.Fprintf(e.Stdout, "Successfully registered service connector `%s`.\n", conn.Name)
	} else {
		fmt.Fprintf(e.Stdout, "Successfully registered service connector `%s` with access to the following resources:\n", conn.Name)
		resourcesTable(res).render(e.Stdout)
	}
	if res.HasErrors() {
		if res.Error != "" {
			return verifyErrorf("service connector `%s` was registered, but its credentials do not work: %s", conn.Name, res.Error)
		}
		n := 0
		for _, r := range res.Resources {
			if r.Error != "" {
				n++
			}
		}
		return verifyErrorf("service connector `%s` was registered, but %d of %d resource types reported errors (see the table)", conn.Name, n, len(res.Resources))
	}
	return nil
}

// applyAutoConfig fills method, configuration and expiry from the local credentials; values
// given on the command line win.
func applyAutoConfig(ctx context.Context, e *env, method *string, cfg map[string]any, expiresAt **time.Time, p *parsed) error {
	ac, err := autoConfigure(ctx, e, *method, stringValue(cfg["project_id"]))
	if err != nil {
		return err
	}
	*method = ac.Method
	for k, v := range ac.Config {
		if _, given := cfg[k]; !given {
			cfg[k] = v
		}
	}
	if *expiresAt == nil && ac.ExpiresAt != nil {
		*expiresAt = ac.ExpiresAt
	}
	fmt.Fprintf(e.Stderr, "Auto-configured auth method %s from %s.\n", ac.Method, ac.Source)
	return nil
}

func stringValue(v any) string {
	s, _ := v.(string)
	return s
}

func updateCommand() *command {
	return &command{
		Name:    "update",
		Args:    "NAME",
		Summary: "Change a connector (configuration given here replaces the stored one)",
		Help: configHelp + `

Only the owner and admins may update. Configuration fields, when any are given (or with
--auto-configure), replace the stored configuration and secrets as a whole and the server
verifies the result unless --no-verify. --label adds or changes labels; --remove-label drops
them; --user replaces the list of users.

Examples:
  gcpconn update gcp-auto --label team=ml --description "ML team's project"
  gcpconn update gcp-service-account --service_account_json=@new-key.json
  gcpconn update gcp-oauth2-token --auto-configure --auth-method oauth2-token
  gcpconn update gcs-data --name gcs-ml-data`,
		Flags: append([]flagSpec{
			{Name: "name", Value: "NEW-NAME", Help: "rename the connector"},
			{Name: "remove-label", Value: "KEY", Repeat: true, Help: "drop a label"},
		}, configFlags[:len(configFlags)-1]...),
		Extras: true,
		Run:    runUpdate,
	}
}

func runUpdate(ctx context.Context, e *env, p *parsed) error {
	name, c, err := e.connectorClient(p)
	if err != nil {
		return err
	}
	a, err := readConfigArgs(e, p)
	if err != nil {
		return err
	}
	cfg, labels := a.Config, a.Labels
	var u client.UpdateRequest
	str := func(flag string) *string {
		if !p.has(flag) {
			return nil
		}
		v := p.str(flag)
		return &v
	}
	u.Name, u.Description, u.ResourceType, u.ResourceID, u.AuthMethod = str("name"), str("description"), str("resource-type"), str("resource-id"), str("auth-method")
	u.ExpiresAt, u.ExpirationSeconds = a.ExpiresAt, a.ExpirationSeconds
	u.RotationPeriod = str("rotation-period")
	if p.has("user") {
		u.Users = p.all("user")
	}
	if labels != nil || p.has("remove-label") {
		cur, err := c.Describe(ctx, name)
		if err != nil {
			return err
		}
		u.Labels = map[string]string{}
		for k, v := range cur.Labels {
			u.Labels[k] = v
		}
		for k, v := range labels {
			u.Labels[k] = v
		}
		for _, k := range p.all("remove-label") {
			delete(u.Labels, k)
		}
	}
	if p.bool("auto-configure") {
		method := p.str("auth-method")
		if err := applyAutoConfig(ctx, e, &method, cfg, &u.ExpiresAt, p); err != nil {
			return err
		}
		u.AuthMethod = &method
	}
	if len(cfg) > 0 {
		u.Configuration = cfg
	}
	if p.bool("no-verify") {
		f := false
		u.Verify = &f
	}
	if u.SubjectToken, err = subjectToken(e, p); err != nil {
		return err
	}
	conn, err := c.Update(ctx, name, u)
	if err != nil {
		return err
	}
	if e.json() {
		return e.printJSON(map[string]any{"connector": conn})
	}
	fmt.Fprintf(e.Stdout, "Successfully updated service connector `%s`.\n", conn.Name)
	describeConnector(e, *conn)
	return nil
}

// interactive asks on the terminal for what the command line did not say.
func interactive(ctx context.Context, e *env, c *client.Client, p *parsed, req *client.RegisterRequest) error {
	types, err := c.Types(ctx)
	if err != nil {
		return err
	}
	if len(types) == 0 {
		return fmt.Errorf("the server lists no connector types")
	}
	spec := types[0]
	q := &prompter{e: e, in: bufio.NewReader(e.Stdin)}
	if err := q.askConnector(spec, req); err != nil {
		return err
	}
	auto := p.bool("auto-configure")
	if !auto {
		if src, kind, ok := detectLocal(e); ok && req.AuthMethod == "" {
			yn, err := q.ask(fmt.Sprintf("Auto-configure from the local %s credentials in %s? (y/n)", kind, src), "y")
			if err != nil {
				return err
			}
			auto = strings.HasPrefix(strings.ToLower(yn), "y")
		}
	}
	if auto {
		err = applyAutoConfig(ctx, e, &req.AuthMethod, req.Configuration, &req.ExpiresAt, p)
	} else {
		err = q.askConfiguration(spec, req)
	}
	if err != nil {
		return err
	}
	if err := q.askResourceID(spec, req); err != nil {
		return err
	}
	keys := make([]string, 0, len(req.Configuration))
	for k := range req.Configuration {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(e.Stderr, "Registering %s (auth method %s, fields %s)...\n", req.Name, req.AuthMethod, strings.Join(keys, ", "))
	return nil
}

// prompter asks questions on the terminal: prompts on stderr, answers from stdin.
type prompter struct {
	e  *env
	in *bufio.Reader
}

// ask prompts for one line; a blank answer is def.
func (q *prompter) ask(prompt, def string) (string, error) {
	if def != "" {
		prompt += " [" + def + "]"
	}
	fmt.Fprint(q.e.Stderr, prompt+": ")
	line, err := q.in.ReadString('\n')
	if err != nil && (line == "" || err.Error() != "EOF") {
		return "", fmt.Errorf("interactive input ended: %w", err)
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return def, nil
	}
	return line, nil
}

// choose asks for one of options, by number or by name, until it gets one (or a blank
// answer when blankOK).
func (q *prompter) choose(prompt string, options []string, def string, blankOK bool) (string, error) {
	for {
		for i, o := range options {
			fmt.Fprintf(q.e.Stderr, "  %d) %s\n", i+1, o)
		}
		v, err := q.ask(prompt, def)
		if err != nil {
			return "", err
		}
		if v == "" && blankOK {
			return "", nil
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= len(options) {
			return options[n-1], nil
		}
		for _, o := range options {
			if o == v {
				return v, nil
			}
		}
		fmt.Fprintf(q.e.Stderr, "%q is not one of the choices.\n", v)
	}
}

// askConnector asks for the name, description and resource type req lacks.
func (q *prompter) askConnector(spec client.TypeSpec, req *client.RegisterRequest) (err error) {
	for req.Name == "" {
		if req.Name, err = q.ask("Connector name", ""); err != nil {
			return err
		}
	}
	if req.Description == "" {
		if req.Description, err = q.ask("Description (optional)", ""); err != nil {
			return err
		}
	}
	if req.ResourceType == "" {
		rts := names(spec.ResourceTypes, func(r client.ResourceTypeSpec) string { return r.ResourceType })
		if req.ResourceType, err = q.choose("Resource type (blank: every type)", rts, "", true); err != nil {
			return err
		}
	}
	return nil
}

// askConfiguration asks for the auth method, the configuration fields and the expiry that
// req lacks.
func (q *prompter) askConfiguration(spec client.TypeSpec, req *client.RegisterRequest) (err error) {
	if req.AuthMethod == "" {
		ams := names(spec.AuthMethods, func(m client.AuthMethodSpec) string { return m.AuthMethod })
		if req.AuthMethod, err = q.choose("Auth method", ams, "", false); err != nil {
			return err
		}
	}
	var method *client.AuthMethodSpec
	for i := range spec.AuthMethods {
		if spec.AuthMethods[i].AuthMethod == req.AuthMethod {
			method = &spec.AuthMethods[i]
		}
	}
	if method == nil {
		return usageErrorf("auth method %q is not one of the gcp type's", req.AuthMethod)
	}
	for _, f := range schemaFields(method.ConfigSchema) {
		if _, given := req.Configuration[f.Name]; given || f.Const != nil {
			continue
		}
		if err := q.askField(f, req.Configuration); err != nil {
			return err
		}
	}
	for method.RequiresExpiresAt && req.ExpiresAt == nil {
		v, err := q.ask("When does the token expire? (RFC 3339 or YYYY-MM-DD HH:MM:SS UTC)", "")
		if err != nil {
			return err
		}
		if t, err := parseTime(v); err == nil {
			req.ExpiresAt = &t
		} else {
			fmt.Fprintln(q.e.Stderr, err)
		}
	}
	return nil
}

// askField asks for configuration field f until it gets a valid value (hidden for secrets;
// @FILE reads a file), or a blank answer for an optional field, and stores it in cfg.
func (q *prompter) askField(f schemaField, cfg map[string]any) error {
	label := f.Title
	if label == "" {
		label = f.Name
	}
	label += " (" + f.Name
	if !f.Required {
		label += ", optional"
	}
	label += ")"
	for {
		var v string
		var err error
		if f.Secret {
			v, err = readHidden(q.in, q.e.Stdin, func() { fmt.Fprint(q.e.Stderr, label+" [hidden; @FILE reads a file]: ") })
			fmt.Fprintln(q.e.Stderr)
		} else {
			v, err = q.ask(label, "")
		}
		if err != nil {
			return err
		}
		if v == "" && f.Required {
			fmt.Fprintln(q.e.Stderr, "This field is required.")
			continue
		}
		if v == "" {
			return nil
		}
		if path, ok := strings.CutPrefix(v, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(q.e.Stderr, "Cannot read %s: %v\n", path, err)
				continue
			}
			v = strings.TrimRight(string(b), "\n")
		}
		val, err := configValueOf(f.Name, v)
		if err != nil {
			fmt.Fprintln(q.e.Stderr, err)
			continue
		}
		cfg[f.Name] = val
		return nil
	}
}

// askResourceID asks for the resource id of a single resource type with instances.
func (q *prompter) askResourceID(spec client.TypeSpec, req *client.RegisterRequest) (err error) {
	if req.ResourceType == "" || req.ResourceID != "" {
		return nil
	}
	for _, r := range spec.ResourceTypes {
		if r.ResourceType == req.ResourceType && r.SupportsInstances {
			if req.ResourceID, err = q.ask("Resource id (blank: any "+r.ResourceType+" the credentials reach)", ""); err != nil {
				return err
			}
		}
	}
	return nil
}
