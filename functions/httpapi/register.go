package httpapi

import (
	"net/http"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// Register creates (POST), updates (PUT ?connector=REF) and deletes (DELETE ?connector=REF)
// connectors.
func (a *API) Register(w http.ResponseWriter, r *http.Request) {
	c, ok := a.start(w, r, "register")
	defer c.done()
	if !ok {
		return
	}
	ref := r.URL.Query().Get("connector")
	if r.Method != http.MethodPost && ref == "" {
		c.fail(connector.FieldErrorf("connector", "name the connector to %s with ?connector=NAME or ID", map[string]string{http.MethodPut: "update", http.MethodDelete: "delete"}[r.Method]))
		return
	}
	switch r.Method {
	case http.MethodPost:
		var b wire.RegisterRequest
		if !c.decode(&b, false) {
			return
		}
		req, err := registerRequest(b)
		if err != nil {
			c.fail(err)
			return
		}
		conn, res, err := c.svc.Register(c.ctx, c.p, req)
		if err != nil {
			c.fail(err)
			return
		}
		writeJSON(w, http.StatusCreated, wire.RegisterResponse{Connector: toConnectorJSON(conn, c.svc.SecretName(conn)), Resources: toResourcesJSON(res)})
	case http.MethodPut:
		var b wire.UpdateRequest
		if !c.decode(&b, false) {
			return
		}
		req, err := updateRequest(b)
		if err != nil {
			c.fail(err)
			return
		}
		conn, err := c.svc.Update(c.ctx, c.p, ref, req)
		if err != nil {
			c.fail(err)
			return
		}
		writeJSON(w, http.StatusOK, wire.RegisterResponse{Connector: toConnectorJSON(conn, c.svc.SecretName(conn))})
	case http.MethodDelete:
		if err := c.svc.Delete(c.ctx, c.p, ref); err != nil {
			c.fail(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
