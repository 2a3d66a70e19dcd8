// Package jsonwalk reads a value nested in decoded JSON (objects as map[string]any) by the
// member names on the way to it: a log entry's field "jsonPayload.outcome", a token's claim
// "/kubernetes.io/serviceaccount/name".
package jsonwalk

// Get returns the value reached from v through the object members keys, in order, and whether
// every one of them exists (false also where a value on the way is not an object). No keys
// reach v itself.
func Get(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}
