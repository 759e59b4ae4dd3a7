#!/usr/bin/env bash
# OCI runtime validation: builds capvisor's validation programs (tools/oci-validate/, Go, on the runtime-tools
# libraries of Debian's golang-github-opencontainers-runtime-tools-dev) with Debian's golang-go, offline, into
# target/oci-validate/, then runs each against $RUNTIME with a timeout, parses the TAP and prints a summary.
#
#   RUNTIME=/usr/sbin/runc tools/oci-validate.sh          # the baseline
#   RUNTIME=target/release/sentry tools/oci-validate.sh   # capvisor (default: release, else debug build)
#   tools/oci-validate.sh create kill                     # only these programs
#
# Env: RUNTIME, OCI_VALIDATE_TIMEOUT (seconds a program, default 120), OCI_VALIDATE_KEEP=1 (keep bundles and TAP),
# OCI_VALIDATE_ANNOTATIONS=k=v,... (added to every config.json, e.g. dev.capvisor.platform=ptrace).
# Writes target/oci-validate/results/<program>.tap and target/oci-validate/results.json.
# Ends with "N passed, N failed, N skipped (of N TAP assertions in M programs)"; exits 1 when an assertion failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/target/oci-validate"
bin="$out/bin"
src="$repo/tools/oci-validate"
timeout_s=${OCI_VALIDATE_TIMEOUT:-120}

if [ -z "${RUNTIME:-}" ]; then
  if [ -x "$repo/target/release/sentry" ]; then RUNTIME="$repo/target/release/sentry"
  elif [ -x "$repo/target/debug/sentry" ]; then RUNTIME="$repo/target/debug/sentry"
  else echo "oci-validate: no RUNTIME given and no target/{release,debug}/sentry: build first or set RUNTIME" >&2; exit 2
  fi
fi
case "$RUNTIME" in /*) ;; */*) RUNTIME="$(cd "$(dirname "$RUNTIME")" && pwd)/$(basename "$RUNTIME")" ;; esac
export RUNTIME

# ---------------------------------------------------------------- build (offline, GOPATH mode on Debian's sources)
gocode=/usr/share/gocode
rt="$gocode/src/github.com/opencontainers/runtime-tools"
if ! command -v go >/dev/null; then echo "oci-validate: go not found: apt-get install golang-go" >&2; exit 2; fi
if [ ! -d "$rt/generate" ]; then
  echo "oci-validate: $rt missing: apt-get install golang-github-opencontainers-runtime-tools-dev" >&2; exit 2
fi
busybox=${BUSYBOX:-/bin/busybox}
# A dynamic busybox would need a libc the rootfs does not have (ldd fails on a static binary).
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "oci-validate: $busybox is not a static busybox: apt-get install busybox-static" >&2; exit 2
fi
mkdir -p "$out/gopath/src/capvisor.dev" "$bin"
ln -sfn "$src" "$out/gopath/src/capvisor.dev/ocivalidate"
export GO111MODULE=off GOPATH="$out/gopath:$gocode" GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOCACHE="$out/gocache"
export GOTOOLCHAIN=local
build() { (cd "$out/gopath/src/capvisor.dev/ocivalidate" && go build -trimpath -o "$bin/$2" "./$1"); }
build runtimetest runtimetest || { echo "oci-validate: building runtimetest failed" >&2; exit 2; }
programs=()
for d in "$src"/validation/*/; do
  name=$(basename "$d")
  if [ "$#" -gt 0 ]; then
    want=0; for a in "$@"; do [ "$a" = "$name" ] && want=1; done; [ "$want" = 1 ] || continue
  fi
  build "validation/$name" "$name" || { echo "oci-validate: building $name failed" >&2; exit 2; }
  programs+=("$name")
done

# The rootfs template: busybox-static, its applets as symlinks, runtimetest, a passwd/group.
rootfs="$bin/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,var,usr/bin}
cp "$busybox" "$rootfs/bin/busybox"
for a in sh ash cat echo ls sleep true false touch mkdir id hostname test env ps kill grep head wc stat readlink mount; do
  ln -s busybox "$rootfs/bin/$a"
done
cp "$bin/runtimetest" "$rootfs/runtimetest"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"

# ---------------------------------------------------------------- run
results="$out/results"
rm -rf "$results"; mkdir -p "$results"
work=$(mktemp -d /tmp/oci-validate.XXXXXX)
export OCI_VALIDATE_ROOT="$work/root" OCI_VALIDATE_TMP="$work/bundles" OCI_VALIDATE_DIR="$bin"
# The runtime's audit logs go with the run's temporary directory, not the node's /var/log/capvisor.
export CAPVISOR_AUDIT_DIR="$work/audit"
mkdir -p "$OCI_VALIDATE_ROOT" "$OCI_VALIDATE_TMP"
chmod 755 "$work" "$OCI_VALIDATE_TMP" # a container with a user namespace reaches its bundle as an unmapped user

cleanup() {
  # Whatever a program left behind under our --root: delete --force every container `list` still shows.
  local ids
  ids=$("$RUNTIME" --root "$OCI_VALIDATE_ROOT" list -q 2>/dev/null || true)
  for id in $ids; do
    echo "oci-validate: removing leftover container $id" >&2
    timeout 30 "$RUNTIME" --root "$OCI_VALIDATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  # Bundles may hold mounts a failed runtime left: unmount before removing.
  grep -o " $work[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  [ -n "${OCI_VALIDATE_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

echo "oci-validate: RUNTIME=$RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -1)), ${#programs[@]} programs, ${timeout_s}s each"
tp=0; tf=0; ts=0; tn=0; json_rows=()
for name in "${programs[@]}"; do
  tap="$results/$name.tap"
  (cd "$bin" && timeout -k 5 "$timeout_s" "./$name") >"$tap" 2>"$results/$name.stderr" </dev/null
  rc=$?
  p=$(grep -cE '^ok [0-9]+' "$tap" | tr -d ' '); s=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$tap")
  f=$(grep -cE '^not ok [0-9]+' "$tap"); p=$((p - s))
  plan=$(grep -oE '^1\.\.[0-9]+' "$tap" | tail -1 | cut -d. -f3)
  note=""
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then note="timed out after ${timeout_s}s"; f=$((f + 1))
  elif [ -z "$plan" ]; then note="no TAP plan (exit $rc): $(tail -c 300 "$results/$name.stderr" | tr '\n' ' ')"; f=$((f + 1))
  elif [ "$plan" -ne $((p + s + f)) ]; then note="plan 1..$plan but $((p + s + f)) assertions"; f=$((f + 1))
  fi
  n=$((p + f + s))
  status=PASS; [ "$f" -gt 0 ] && status=FAIL; [ "$f" -eq 0 ] && [ "$p" -eq 0 ] && status=SKIP
  printf '%-4s %-36s %3d passed %3d failed %3d skipped%s\n' "$status" "$name" "$p" "$f" "$s" "${note:+  ($note)}"
  grep -E '^not ok' "$tap" | sed 's/^/       /' | head -20
  tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s)); tn=$((tn + n))
  esc_note=$(printf '%s' "$note" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\000-\037')
  json_rows+=("{\"program\":\"$name\",\"status\":\"$status\",\"passed\":$p,\"failed\":$f,\"skipped\":$s,\"exit\":$rc,\"note\":\"$esc_note\"}")
done
{
  printf '{"runtime":"%s","passed":%d,"failed":%d,"skipped":%d,"assertions":%d,"programs":[\n' "$RUNTIME" "$tp" "$tf" "$ts" "$tn"
  ( IFS=$'\n'; printf '%s' "${json_rows[*]}" | sed '$!s/$/,/' ); printf '\n]}\n'
} >"$out/results.json"
echo "TAP streams: $results/, summary: $out/results.json"
echo "$tp passed, $tf failed, $ts skipped (of $tn TAP assertions in ${#programs[@]} programs)"
[ "$tf" -eq 0 ]
