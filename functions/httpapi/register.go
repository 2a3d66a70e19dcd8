package httpapi

import (
	"net/http"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// Register creates (POST), updates (PUT ?connector=REF) and deletes (DELETE ?connector=REF)
// connectors.
func (a *API) Register(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "register", func(c *call) error {
		ref := r.URL.Query().Get("connector")
		switch {
		case r.Method == http.MethodPost:
			return c.register()
		case ref == "":
			return connector.FieldErrorf("connector", "name the connector to %s with ?connector=NAME or ID", map[string]string{http.MethodPut: "update", http.MethodDelete: "delete"}[r.Method])
		case r.Method == http.MethodPut:
			return c.update(ref)
		}
		if err := c.svc.Delete(c.ctx, c.p, ref); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// register creates the connector of the body (POST) and answers 201.
func (c *call) register() error {
	req, ok, err := decodeAs(c, registerRequest)
	if !ok {
		return err
	}
	conn, res, err := c.svc.Register(c.ctx, c.p, req)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, wire.RegisterResponse{Connector: toConnectorJSON(conn, c.svc.SecretName(conn)), Resources: toResourcesJSON(res)})
	return nil
}

// update applies the body's changes to the connector ref (PUT).
func (c *call) update(ref string) error {
	req, ok, err := decodeAs(c, updateRequest)
	if !ok {
		return err
	}
	conn, err := c.svc.Update(c.ctx, c.p, ref, req)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, wire.RegisterResponse{Connector: toConnectorJSON(conn, c.svc.SecretName(conn))})
	return nil
}
