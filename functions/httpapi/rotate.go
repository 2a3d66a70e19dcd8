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
	c, ok := a.start(w, r, "rotate")
	defer c.done()
	if !ok {
		return
	}
	var b wire.RotateRequest
	if !c.decode(&b, true) {
		return
	}
	if b.Connector == "" {
		c.fail(connector.FieldErrorf("connector", `name the connector whose key to rotate: {"connector": NAME or ID}`))
		return
	}
	k, ok := c.keeper()
	if !ok {
		return
	}
	conn, rotated, err := k.Rotate(c.ctx, c.p, b.Connector)
	if err != nil {
		c.fail(err)
		return
	}
	writeJSON(w, http.StatusOK, wire.RotateResponse{Rotated: rotated, KeyID: conn.Rotation.KeyID, Connector: toConnectorJSON(conn, c.svc.SecretName(conn))})
}
