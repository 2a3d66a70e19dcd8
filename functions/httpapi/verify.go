package httpapi

import (
	"net/http"

	"github.com/gcpconn/gcpconn/functions/wire"
)

// Verify checks a stored connector ({"connector": REF}) or a spec ({"spec": {...}}) and lists
// the resources it reaches.
func (a *API) Verify(w http.ResponseWriter, r *http.Request) {
	serveBody(a, w, r, "verify", false, func(c *call, b wire.VerifyRequest) error {
		req, err := verifyRequest(b)
		if err != nil {
			return err
		}
		res, err := c.svc.Verify(c.ctx, c.p, req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toResourcesJSON(res))
		return nil
	})
}
