package rest

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestPage(t *testing.T) {
	tests := []struct {
		name                string
		query               url.Values
		n                   int
		wantStart, wantEnd  int
		wantNext            string
		wantInvalidArgument bool
	}{
		{name: "all", n: 3, wantStart: 0, wantEnd: 3},
		{name: "capped by max", n: 12, wantStart: 0, wantEnd: 10, wantNext: token("offset:10")},
		{name: "size", query: url.Values{"pageSize": {"2"}}, n: 3, wantStart: 0, wantEnd: 2, wantNext: token("offset:2")},
		{name: "size 0 is max", query: url.Values{"pageSize": {"0"}}, n: 3, wantStart: 0, wantEnd: 3},
		{name: "second page", query: url.Values{"pageSize": {"2"}, "pageToken": {token("offset:2")}}, n: 3, wantStart: 2, wantEnd: 3},
		{name: "token at the end", query: url.Values{"pageToken": {token("offset:3")}}, n: 3, wantStart: 3, wantEnd: 3},
		{name: "negative size", query: url.Values{"pageSize": {"-1"}}, n: 3, wantInvalidArgument: true},
		{name: "bad size", query: url.Values{"pageSize": {"x"}}, n: 3, wantInvalidArgument: true},
		{name: "negative offset", query: url.Values{"pageToken": {token("offset:-1")}}, n: 3, wantInvalidArgument: true},
		{name: "offset past the end", query: url.Values{"pageToken": {token("offset:4")}}, n: 3, wantInvalidArgument: true},
		{name: "not base64", query: url.Values{"pageToken": {"!!"}}, n: 3, wantInvalidArgument: true},
		{name: "foreign token", query: url.Values{"pageToken": {token("2")}}, n: 3, wantInvalidArgument: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/x?"+tt.query.Encode(), nil)
			start, end, next, gerr := Page(r, tt.n, 10)
			if tt.wantInvalidArgument {
				if gerr == nil || gerr.Status != "INVALID_ARGUMENT" {
					t.Fatalf("Page(%v) error = %v; want INVALID_ARGUMENT", tt.query, gerr)
				}
				return
			}
			if gerr != nil {
				t.Fatalf("Page(%v) error = %v", tt.query, gerr)
			}
			if start != tt.wantStart || end != tt.wantEnd || next != tt.wantNext {
				t.Errorf("Page(%v) = %d, %d, %q; want %d, %d, %q", tt.query, start, end, next, tt.wantStart, tt.wantEnd, tt.wantNext)
			}
		})
	}
}

func TestCallRoundTrip(t *testing.T) {
	type callA struct{ project string }
	type callB struct{ project string }
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r = WithCall(r, callA{project: "a"})
	if got := CallFrom[callA](r); got.project != "a" {
		t.Errorf("CallFrom[callA] = %+v; want project a", got)
	}
	if got := CallFrom[callB](r); got.project != "" {
		t.Errorf("CallFrom[callB] = %+v; want the zero call (another type's key)", got)
	}
}
