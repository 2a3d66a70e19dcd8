package app

import (
	"net/http"

	"github.com/gcpconn/gcpconn/shared/connector"
)

type acceptAll struct{}

func (acceptAll) Authenticate(*http.Request) (connector.Principal, error) {
	return connector.Principal{Email: "someone@example.com"}, nil
}
