package httpapi

import (
	"net/http"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// Rotate replaces the service-account key of a connector now (POST /rotate with
// {"connector": REF}; owner or admin; gcpconn rotate). It answers the new key's id (never its material), whether
// this call pinned it, and the connector with its status.
func (a *API) Rotate(w http.ResponseWriter, r *http.Request) {
	serveBody(a, w, r, "rotate", true, func(c *call, b wire.RotateRequest) error {
		if b.Connector == "" {
			return connector.FieldErrorf("connector", `name the connector whose key to rotate: {"connector": NAME or ID}`)
		}
		k, err := c.keeper()
		if err != nil {
			return err
		}
		conn, rotated, err := k.Rotate(c.ctx, c.p, b.Connector)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, wire.RotateResponse{Rotated: rotated, KeyID: conn.Rotation.KeyID, Connector: toConnectorJSON(conn, c.svc.SecretName(conn))})
		return nil
	})
}
