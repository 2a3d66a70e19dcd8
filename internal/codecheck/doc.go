// Package codecheck holds checks of the repository's own source that run as tests: rules of
// the project that gofmt, vet and staticcheck do not know.
//
// # Function length
//
// No function of the module (shared/, functions/, cmd/, emulator/, infra/, internal/) is longer than MaxFuncLines lines, counted from its
// func line to its closing brace (its doc comment not included). Test files are not checked:
// a table-driven test keeps its case table next to the loop that runs it. A function that
// grows past the limit is split where a reader would lose the thread, not cut at line 80.
//
// # Citations
//
// No tracked file cites the design notes kept beside the checkout (a numbered section or the
// file itself, the reference/ notes and the *-anchor research notes):
// a reader of the repository cannot follow such a pointer. ARCHITECTURE.md, the README files
// and the package docs are the repository's own documents.
package codecheck

// MaxFuncLines is the longest a function of the module may be, in lines.
const MaxFuncLines = 80

// CheckedDirs are the directories, relative to the module root, whose functions are held to
// MaxFuncLines.
var CheckedDirs = []string{"shared", "functions", "cmd", "emulator", "infra", "internal"}
