package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// listParams are the query parameters GET /list accepts; any other is refused.
var listParams = map[string]bool{
	"name": true, "auth_method": true, "resource_type": true, "label": true,
	"page_size": true, "page_token": true, "connector": true, "types": true,
}

// List lists connectors (filters, paging), describes one (?connector=REF), or lists the
// connector types (?types=true).
func (a *API) List(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "list", func(c *call) error {
		q := r.URL.Query()
		for k := range q {
			if !listParams[k] {
				return connector.FieldErrorf(k, "unknown query parameter %q", k)
			}
		}
		if t := q.Get("types"); t != "" {
			if b, err := strconv.ParseBool(t); err != nil || !b {
				return connector.FieldErrorf("types", "types must be true")
			}
			writeJSON(w, http.StatusOK, wire.TypesResponse{ConnectorTypes: []wire.TypeSpec{connector.Spec()}})
			return nil
		}
		if ref := q.Get("connector"); ref != "" {
			conn, err := c.svc.Get(c.ctx, c.p, ref)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, wire.DescribeResponse{Connector: toConnectorJSON(conn, c.svc.SecretName(conn))})
			return nil
		}
		f := connector.Filter{
			Name:         q.Get("name"),
			AuthMethod:   connector.AuthMethod(q.Get("auth_method")),
			ResourceType: connector.ResourceType(q.Get("resource_type")),
		}
		for _, l := range q["label"] {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return connector.FieldErrorf("label", "label filter %q is not KEY=VALUE or KEY", l)
			}
			if f.Labels == nil {
				f.Labels = map[string]string{}
			}
			f.Labels[k] = v
		}
		pg := connector.Page{Token: q.Get("page_token")}
		if s := q.Get("page_size"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > connector.MaxPageSize {
				return connector.FieldErrorf("page_size", "page_size must be a number from 1 to %d (0 or absent: %d), not %q",
					connector.MaxPageSize, connector.DefaultPageSize, s)
			}
			pg.Size = n
		}
		cs, next, err := c.svc.List(c.ctx, c.p, f, pg)
		if err != nil {
			return err
		}
		out := wire.ListResponse{Connectors: make([]wire.Connector, len(cs)), NextPageToken: next}
		for i, conn := range cs {
			out.Connectors[i] = toConnectorJSON(conn, c.svc.SecretName(conn))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}
