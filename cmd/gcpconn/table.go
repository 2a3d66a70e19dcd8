package main

import (
	"io"
	"strings"

	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// table is a boxed table like the seed's: a heavy frame, light inner rules, a rule between
// row groups. A row's cells may span several lines ("\n"); long lines are wrapped at
// maxCellWidth.
type table struct {
	Title   string
	Headers []string
	Rows    [][]string
	// Ruled puts a rule between every two rows (property tables, multi-line groups).
	Ruled bool
}

const maxCellWidth = 100

// emoji marks the connector type and resource types (the icon of each resource type's record
// in package resourcetype), as in the seed's tables.
var emoji = func() map[string]string {
	m := map[string]string{"gcp": "🔵"}
	for _, info := range resourcetype.All() {
		m[string(info.Type)] = info.Icon
	}
	return m
}()

// orList lists items for a help text or message: "a, b, c or d".
func orList[S ~string](items []S) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = string(it)
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// withEmoji prefixes a resource or connector type with its emoji.
func withEmoji(s string) string {
	if e, ok := emoji[s]; ok {
		return e + " " + s
	}
	return s
}

// width is the display width of s in a terminal: emoji take two columns, variation
// selectors none.
func width(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r == 0xFE0F || r == 0x200D:
		case r >= 0x1F300 && r <= 0x1FAFF, r == 0x2705, r == 0x274C, r == 0x2796, r == 0x26A0, r == 0x23F3:
			n += 2
		default:
			n++
		}
	}
	return n
}

// wrap breaks s into lines of at most w columns, at spaces where possible.
func wrap(s string, w int) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for width(line) > w {
			cut := 0
			col := 0
			lastSpace := -1
			for i, r := range line {
				cw := width(string(r))
				if col+cw > w {
					cut = i
					if r == ' ' {
						lastSpace = i
					}
					break
				}
				if r == ' ' {
					lastSpace = i
				}
				col += cw
			}
			if lastSpace > 0 {
				cut = lastSpace
			}
			if cut == 0 {
				break
			}
			out = append(out, strings.TrimRight(line[:cut], " "))
			line = strings.TrimLeft(line[cut:], " ")
		}
		out = append(out, line)
	}
	return out
}

func (t *table) render(w io.Writer) {
	cols := len(t.Headers)
	widths := make([]int, cols)
	for i, h := range t.Headers {
		widths[i] = width(h)
	}
	cells := make([][][]string, len(t.Rows)) // row, col, line
	for r, row := range t.Rows {
		cells[r] = make([][]string, cols)
		for c := 0; c < cols; c++ {
			v := ""
			if c < len(row) {
				v = row[c]
			}
			cells[r][c] = wrap(v, maxCellWidth)
			for _, l := range cells[r][c] {
				if n := width(l); n > widths[c] {
					widths[c] = n
				}
			}
		}
	}
	var b strings.Builder
	rule := func(left, fill, mid, right string) {
		b.WriteString(left)
		for c, n := range widths {
			if c > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat(fill, n+2))
		}
		b.WriteString(right + "\n")
	}
	line := func(vals []string) {
		b.WriteString("┃")
		for c, n := range widths {
			if c > 0 {
				b.WriteString("│")
			}
			v := vals[c]
			b.WriteString(" " + v + strings.Repeat(" ", n-width(v)) + " ")
		}
		b.WriteString("┃\n")
	}
	if t.Title != "" {
		total := 1
		for _, n := range widths {
			total += n + 3
		}
		pad := (total - width(t.Title)) / 2
		if pad < 0 {
			pad = 0
		}
		b.WriteString(strings.Repeat(" ", pad) + t.Title + "\n")
	}
	rule("┏", "━", "┯", "┓")
	line(t.Headers)
	rule("┠", "─", "┼", "┨")
	for r := range cells {
		if r > 0 && (t.Ruled || rowLines(cells[r-1]) > 1 || rowLines(cells[r]) > 1) {
			rule("┠", "─", "┼", "┨")
		}
		for l := 0; l < rowLines(cells[r]); l++ {
			vals := make([]string, cols)
			for c := range vals {
				if l < len(cells[r][c]) {
					vals[c] = cells[r][c][l]
				}
			}
			line(vals)
		}
	}
	rule("┗", "━", "┷", "┛")
	_, _ = io.WriteString(w, b.String())
}

func rowLines(row [][]string) int {
	n := 1
	for _, c := range row {
		if len(c) > n {
			n = len(c)
		}
	}
	return n
}
