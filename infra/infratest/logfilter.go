package infratest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gcpconn/gcpconn/internal/jsonwalk"
)

// A LogFilter is what a log-based metric (google_logging_metric) or a log-match alert
// (condition_matched_log) selects and reads from gcpconn's log entries: the comparisons on
// jsonPayload fields its filter ANDs, and the fields its label extractors read.
type LogFilter struct {
	Source  string   // e.g. google_logging_metric.gcpconn["mints"]
	Clauses []Clause // the filter's jsonPayload comparisons (resource.* clauses left out)
	// Labels maps each extracted label to the jsonPayload field it reads.
	Labels map[string]string
}

// A Clause is one comparison of a filter: jsonPayload.Field Op Value.
type Clause struct {
	Field string // dotted path under jsonPayload
	Op    string // "=" or "!="
	Value any    // string, bool or float64
}

// Matches reports whether the decoded JSON log entry e satisfies c.
func (c Clause) Matches(e map[string]any) bool {
	v, ok := Field(e, c.Field)
	eq := ok && v == c.Value
	if c.Op == "!=" {
		return ok && !eq
	}
	return eq
}

// Field returns the value at the dotted path in a decoded JSON entry.
func Field(e map[string]any, path string) (any, bool) {
	return jsonwalk.Get(e, strings.Split(path, ".")...)
}

var (
	clauseRE  = regexp.MustCompile(`^jsonPayload\.([A-Za-z0-9_.]+)\s*(!=|=)\s*(.+)$`)
	extractRE = regexp.MustCompile(`^EXTRACT\(jsonPayload\.([A-Za-z0-9_.]+)\)$`)
)

// ParseLogFilter reads a filter in the subset of the Logging query language that
// monitoring.tf uses: clauses joined by AND, each resource.X=... (skipped: the platform sets
// those) or jsonPayload.FIELD = or != a quoted string, true, false or a number. Anything else
// is an error, so that a filter this reader does not understand is not silently unchecked.
func ParseLogFilter(filter string) ([]Clause, error) {
	var out []Clause
	for part := range strings.SplitSeq(filter, " AND ") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "resource.") {
			continue
		}
		m := clauseRE.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("clause %q: want jsonPayload.FIELD = VALUE or != VALUE", part)
		}
		v, err := literal(m[3])
		if err != nil {
			return nil, fmt.Errorf("clause %q: %w", part, err)
		}
		out = append(out, Clause{Field: m[1], Op: m[2], Value: v})
	}
	return out, nil
}

func literal(s string) (any, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		return strconv.Unquote(s)
	case s == "true" || s == "false":
		return s == "true", nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("value %s is not a quoted string, true, false or a number", s)
	}
	return f, nil
}

// LogFilters returns the log filters of the module's log-based metrics and log-match alerts,
// sorted by source.
func LogFilters(m *Module) ([]LogFilter, error) {
	var out []LogFilter
	add := func(source string, in *Instance) error {
		f, err := in.String("filter")
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		lf := LogFilter{Source: source, Labels: map[string]string{}}
		if lf.Clauses, err = ParseLogFilter(f); err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		ex, err := in.StringMap("label_extractors")
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		for label, e := range ex {
			mm := extractRE.FindStringSubmatch(e)
			if mm == nil {
				return fmt.Errorf("%s: label %s: extractor %q is not EXTRACT(jsonPayload.FIELD)", source, label, e)
			}
			lf.Labels[label] = mm[1]
		}
		out = append(out, lf)
		return nil
	}
	for _, r := range m.OfType("google_logging_metric") {
		for _, in := range r.Instances {
			if err := add(fmt.Sprintf("%s[%q]", r.Address(), in.KeyString()), in); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range m.OfType("google_monitoring_alert_policy") {
		for _, in := range r.Instances {
			conds, err := in.Blocks("conditions")
			if err != nil {
				return nil, err
			}
			for _, c := range conds {
				ml, err := c.Blocks("condition_matched_log")
				if err != nil {
					return nil, err
				}
				for _, b := range ml {
					if err := add(fmt.Sprintf("%s[%q] condition_matched_log", r.Address(), in.KeyString()), b); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out, nil
}
