package httpapi

import "net/http"

// serve is the frame of a handler: start the call (method, caller, gate, service), run do,
// and answer its error through the error table. do writes the answer when it succeeds.
func (a *API) serve(w http.ResponseWriter, r *http.Request, entry string, do func(c *call) error) {
	c, ok := a.start(w, r, entry)
	defer c.done()
	if !ok {
		return
	}
	if err := do(c); err != nil {
		c.fail(err)
	}
}

// decodeAs decodes the body (c.decode, not empty) into a B and converts it with conv into the
// request R the service takes. ok is false when the body did not decode (the call is
// answered, err is nil) or conv refused it (err).
func decodeAs[B, R any](c *call, conv func(B) (R, error)) (req R, ok bool, err error) {
	var b B
	if !c.decode(&b, false) {
		return req, false, nil // answered
	}
	if req, err = conv(b); err != nil {
		return req, false, err
	}
	return req, true, nil
}

// serveBody is serve for a function whose request is a JSON body: do gets it decoded into a B
// (c.decode: exactly; an empty body, B's zero value, only when emptyOK). A body that cannot be
// decoded is answered without calling do.
func serveBody[B any](a *API, w http.ResponseWriter, r *http.Request, entry string, emptyOK bool, do func(c *call, b B) error) {
	a.serve(w, r, entry, func(c *call) error {
		var b B
		if !c.decode(&b, emptyOK) {
			return nil // answered
		}
		return do(c, b)
	})
}
