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
