package httpapi

import (
	"net/http"

	"github.com/gcpconn/gcpconn/functions/wire"
)

// Verify checks a stored connector ({"connector": REF}) or a spec ({"spec": {...}}) and lists
// the resources it reaches.
func (a *API) Verify(w http.ResponseWriter, r *http.Request) {
	c, ok := a.start(w, r, "verify")
	defer c.done()
	if !ok {
		return
	}
	var b wire.VerifyRequest
	if !c.decode(&b, false) {
		return
	}
	req, err := verifyRequest(b)
	if err != nil {
		c.fail(err)
		return
	}
	res, err := c.svc.Verify(c.ctx, c.p, req)
	if err != nil {
		c.fail(err)
		return
	}
	writeJSON(w, http.StatusOK, toResourcesJSON(res))
}
