#!/usr/bin/env bash
# scripts/mutants.sh: proves that the tests named for gcpconn's important properties bite.
#
#   scripts/mutants.sh              every mutant below
#   scripts/mutants.sh NAME...      only the named mutants
#   scripts/mutants.sh --list       names, files and tests, nothing run
#   scripts/mutants.sh --dry-run    applies each mutation (checks it still applies), runs nothing
#
# Each mutant removes or loosens one property (coalescing, down-scoping, secret redaction,
# authorization, credential-JSON refusals) in a temporary copy of the committed HEAD (a
# detached `git worktree` in a mktemp directory, removed on exit), then runs the tests named
# for that property with `go test -run` on the one package. A mutant is KILLED when a test
# fails, SURVIVED when they all pass. A mutation that no longer applies (the code it edits
# changed) stops the script: fix its pattern. Before the mutants, the named tests run once
# unmutated per package (the baseline), so that a test failing anyway cannot pass for a kill.
# Uncommitted changes are not in the copy: commit first. Exit status: 0 when every mutant was
# killed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT=scripts/mutants.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# Tests must never probe the real metadata server.
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}

names=() files=() edits=() pkgs=() tests=()
file='' pkg='' test=''
# target FILE PACKAGE TEST-REGEXP: the mutants that follow edit FILE and are killed by the
# tests of PACKAGE that TEST-REGEXP names.
target() { file=$1 pkg=$2 test=$3; }
# mutant NAME PERL-EDIT [TEST-REGEXP]: PERL-EDIT runs as perl -0pi -e on the target's file.
mutant() {
	names+=("$1") files+=("$file") edits+=("$2") pkgs+=("$pkg") tests+=("${3:-$test}")
}
# swap NAME OLD NEW [TEST-REGEXP]: the mutant that replaces the code OLD (taken literally)
# with NEW (taken literally but for $ and @, which no mutant needs).
swap() { mutant "$1" "s~\\Q$2\\E~$3~" "${4:-}"; }
# never NAME COND [TEST-REGEXP]: the mutant that makes the condition "if COND {" never hold.
never() { swap "$1" "if $2 {" "if false && $2 {" "${3:-}"; }

# --- coalescing: concurrent misses share one upstream call -------------------------------
target shared/internal/cache/cache.go ./shared/internal/cache '^TestLoadSharedAndDetached$'
swap cache-load-not-coalesced 'ch := m.flights.DoChan(' 'ch := new(singleflight.Group).DoChan('
# the same loss seen through the core's two caches (tokens and clusters, connectors)
target shared/internal/cache/cache.go ./shared/connector \
	'^(TestTokenCacheConcurrentColdMissesShareOneMint|TestMintConcurrentColdRequestsShareOneUpstreamCall|TestConnectorCacheConcurrentMissesShareOneRead)$'
swap core-caches-not-coalesced 'ch := m.flights.DoChan(' 'ch := new(singleflight.Group).DoChan('
swap tokencache-refresh-not-joined '_, err, _ := m.flights.Do(' '_, err, _ := new(singleflight.Group).Do(' \
	'^TestTokenCacheMissDuringRefreshJoinsIt$'
target shared/store/secretmanager.go ./shared/store '^TestSecretManagerConcurrentColdAccessOneCall$'
swap secretmanager-access-not-coalesced 'ch := m.flights.DoChan(' 'ch := new(singleflight.Group).DoChan('

# --- down-scoping: bucket tokens are limited to their bucket (prefix, read-only) ---------
target shared/connector/mint.go ./shared/connector '^TestMintBucketIsDownscopedByDefault$'
mutant bucket-tokens-not-downscoped-by-default 's/(if d == nil \{\n\t\t)d = &Downscope\{\}/${1}return nil, nil/'
# the same through the record of the type (package resourcetype), which the core reads
target shared/resourcetype/resourcetype.go ./shared/connector '^TestMintBucketIsDownscopedByDefault$'
swap bucket-record-not-downscoped 'Downscoped:     true,' 'Downscoped:     false,'
swap kubernetes-tokens-lack-userinfo-email 'Required:       []string{ScopeUserinfoEmail},' 'Required:       nil,' \
	'^TestMintScopes$'
target shared/gcp/credentials.go ./shared/gcp '^(TestTokenDownscoped|TestMintPerMethodAndType)$'
swap downscope-exchange-skipped 'return g.downscope(ctx, tok, *req.Boundary)' 'return tok, nil'
target shared/gcp/downscope.go ./shared/gcp '^TestTokenDownscoped$'
never downscope-read-only-ignored 'b.ReadOnly'
never downscope-prefix-ignored 'b.Prefix != ""'

# --- secret redaction: logs, errors and answers never hold secret values -----------------
target shared/cloudlog/handler.go ./shared/cloudlog '^TestRedaction$'
never log-redaction-removed 'SensitiveKey(a.Key)'
target shared/connector/connector.go ./shared/connector '^TestSecretsNeverPrint$'
swap secrets-print-their-values 'func (s Secrets) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[HIDDEN]"' \
	'func (s Secrets) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.ServiceAccountJSON+s.Token'
target functions/httpapi/register.go ./functions/httpapi '^TestRegister$'
mutant register-answer-echoes-configuration \
	's/writeJSON\(c\.w, http\.StatusCreated, wire\.RegisterResponse\{Connector: toConnectorJSON\(conn, c\.svc\.SecretName\(conn\)\),/cj := toConnectorJSON(conn, c.svc.SecretName(conn))\n\tcj.Configuration = b.Configuration\n\twriteJSON(c.w, http.StatusCreated, wire.RegisterResponse{Connector: cj,/'

# --- authorization (owner, users, admins) -----------------------------------------------------------
target shared/connector/authz.go ./shared/connector '^TestAuthorization$'
swap users-may-update-and-delete 'if need == actionRead || need == actionUse {' 'if true {'
swap strangers-may-read-and-mint 'return slices.ContainsFunc(c.Users, p.Matches)' 'return true' \
	'^(TestAuthorization|TestMintRefusals)$'
swap strangers-told-403-not-404 'KindOf(err) == ErrNotFound || (err == nil && !s.may(p, c, actionRead))' \
	'KindOf(err) == ErrNotFound'
target shared/principal/principal.go ./shared/principal '^TestPrincipalMatches$'
swap federated-glob-across-issuers 'if !ok || name != p.Issuer {' 'if !ok || name == "" {'

# --- credential-JSON refusals (shared/credjson) ------------------------------------------
target shared/credjson/credjson.go ./shared/credjson '^TestValidateRejects$'
swap token-uri-any-host 'if host == au.Host && u.RawPath == ""' 'if u.RawPath == ""'
swap credential-source-file-not-refused '[]string{"file", "executable", "certificate"}' '[]string{"executable", "certificate"}'
swap credential-source-executable-not-refused '[]string{"file", "executable", "certificate"}' '[]string{"file", "certificate"}'
swap credential-source-any-url 'why = "is not the Azure instance metadata identity endpoint"' 'why = ""' \
	'^(TestValidateRejects|TestAmbientSources)$'
swap duplicate-keys-accepted 'if prev, ok := seen[f]; ok {' 'if prev, ok := seen[f]; false && ok {'
mutant credential-type-not-checked 's/\tcase t == want:\n/\tcase true:\n/'

# --- bounded decoding: every input costs work linear in its size (shared/exactjson) ------
target shared/exactjson/freeform.go ./shared/exactjson '^(TestDepthLimit|TestDecodeRefuses)$'
never json-depth-limit-removed 'f.d.StackDepth() >= MaxDepth'
mutant json-paths-built-eagerly \
	's/(func \(f \*freeForm\) value\(\) \(any, error\) \{\n)/${1}\tif nextPointer(f.d) == "\\x00" {\n\t\treturn nil, nil\n\t}\n/' \
	'^TestNoWorkPerValueBeyondTheResult$'
target shared/exactjson/exactjson.go ./shared/exactjson '^TestScan$'
mutant json-scan-depth-limit-removed 's/(\(k == .\[. \|\| k == .\{.\)) && d\.StackDepth\(\) >= MaxDepth/$1 \&\& false/'
target cmd/gcpconn/bounded.go ./cmd/gcpconn '^TestBoundedInputs$'
swap yaml-depth-limit-removed 'if depth++; depth > exactjson.MaxDepth {' 'if depth++; false && depth > exactjson.MaxDepth {'

# --- options ------------------------------------------------------------------------------
dry=false
selected=()
for a in "$@"; do
	case $a in
	--list)
		for i in "${!names[@]}"; do printf '%-42s %-36s %s -run %s\n' "${names[$i]}" "${files[$i]}" "${pkgs[$i]}" "${tests[$i]}"; done
		exit 0
		;;
	--dry-run) dry=true ;;
	-*) die "unknown option $a (see the header of $SCRIPT)" ;;
	*) selected+=("$a") ;;
	esac
done
run=()
if [ ${#selected[@]} -eq 0 ]; then
	run=("${!names[@]}")
else
	for s in "${selected[@]}"; do
		found=false
		for i in "${!names[@]}"; do
			if [ "${names[$i]}" = "$s" ]; then run+=("$i"); found=true; fi
		done
		$found || die "no mutant named $s (scripts/mutants.sh --list)"
	done
fi

# --- the copy -----------------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gcpconn-mutants.XXXXXX")
WT="$TMP/src"
cleanup() {
	git worktree remove --force "$WT" >/dev/null 2>&1 || true
	rm -rf "$TMP"
	git worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
git worktree add --quiet --detach "$WT" HEAD
say "copy of $(git rev-parse --short HEAD) at $WT"

restore() { git -C "$WT" checkout --quiet -- .; }

# apply I: edits the copy, dies loudly when the file did not change.
apply() {
	local i=$1
	perl -0pi -e "${edits[$i]}" "$WT/${files[$i]}"
	if git -C "$WT" diff --quiet -- "${files[$i]}"; then
		die "mutation did not apply: mutant ${names[$i]} left ${files[$i]} unchanged (its pattern no longer matches the code; fix it in $SCRIPT)"
	fi
}

# gotest PKG REGEXP LOG [-v]: runs the tests in the copy; 0 pass, 1 fail, 2 did not build.
gotest() {
	local rc=0
	(cd "$WT" && go test -count=1 -vet=off -timeout 10m ${4:-} -run "$2" "$1") >"$3" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		grep -q '^ok' "$3" || { cat "$3" >&2; die "go test -run '$2' $1 ran nothing"; }
		grep -q 'no tests to run' "$3" && { cat "$3" >&2; die "go test -run '$2' $1 matched no test"; }
		return 0
	fi
	if grep -qE '\[build failed\]|\[setup failed\]|^# ' "$3"; then return 2; fi
	return 1
}

# testnames REGEXP: the test names of a ^(A|B)$ or ^A$ pattern, one a line.
testnames() { local r=${1#^}; r=${r%\$}; r=${r#(}; r=${r%)}; tr '|' '\n' <<<"$r"; }

if $dry; then
	for i in "${run[@]}"; do
		apply "$i"
		printf '%-42s applies (%s)\n' "${names[$i]}" "${files[$i]}"
		restore
	done
	exit 0
fi

# Baseline: each package's named tests pass unmutated.
declare -A baseline=()
for i in "${run[@]}"; do
	p=${pkgs[$i]}
	baseline[$p]="${baseline[$p]:+${baseline[$p]}|}(${tests[$i]})"
done
for p in "${!baseline[@]}"; do
	say "baseline: $p"
	if ! gotest "$p" "${baseline[$p]}" "$TMP/baseline.log" -v; then
		cat "$TMP/baseline.log" >&2
		die "the named tests of $p fail without any mutation: fix them first"
	fi
	for i in "${run[@]}"; do
		[ "${pkgs[$i]}" = "$p" ] || continue
		for t in $(testnames "${tests[$i]}"); do
			grep -q "^=== RUN   $t\$" "$TMP/baseline.log" || die "mutant ${names[$i]} names test $t, which $p does not have"
		done
	done
done

killed=0 survived=()
for i in "${run[@]}"; do
	apply "$i"
	start=$SECONDS
	rc=0
	gotest "${pkgs[$i]}" "${tests[$i]}" "$TMP/mutant.log" || rc=$?
	case $rc in
	0)
		survived+=("${names[$i]}")
		printf 'SURVIVED  %-42s %s -run %s (%ds)\n' "${names[$i]}" "${pkgs[$i]}" "${tests[$i]}" $((SECONDS - start))
		;;
	1)
		killed=$((killed + 1))
		first=$(grep -m1 -E '^\s*--- FAIL' "$TMP/mutant.log" | sed 's/^ *//' || true)
		printf 'killed    %-42s by %s (%ds)\n' "${names[$i]}" "${first:-a failing test}" $((SECONDS - start))
		;;
	2)
		cat "$TMP/mutant.log" >&2
		die "mutant ${names[$i]} does not build: fix its edit in $SCRIPT"
		;;
	esac
	restore
done

echo "$killed of ${#run[@]} mutants killed"
if [ ${#survived[@]} -gt 0 ]; then
	echo "survived: ${survived[*]}"
	exit 1
fi
