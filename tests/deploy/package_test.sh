#!/usr/bin/env bash
# The Debian package (cmake/packaging.cmake), built and checked as a user
# gets it:
#
#   tests/deploy/package_test.sh BUILD_DIR VERSION
#
# runs `cpack -G DEB` in BUILD_DIR (built already) with its output in a temp
# dir, then checks: the file name; the control data (package, architecture,
# dependencies, conffiles, maintainer scripts that parse); the files (the
# programs, the config, the unit; no tests or benchmarks); that the packaged
# programs run and the packaged config loads; and that the unit passes
# `systemd-analyze verify` in a root holding the package and the system's
# units. Nothing is installed; the temp dir is removed.
set -euo pipefail

build_dir=$(cd "$1" && pwd)
version=$2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok:   $*"; }

# expect_line TEXT PATTERN WHAT: TEXT has a line matching the extended regex.
expect_line() {
  if grep -Eq -- "$2" <<<"$1"; then pass "$3"; else fail "$3 (no line matching '$2')"; fi
}

echo "package_test: cpack -G DEB in $build_dir"
(cd "$build_dir" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 || {
  cat "$tmp/cpack.log" >&2
  fail "cpack -G DEB"
  exit 1
}
deb=$tmp/out/stockgrid_${version}_amd64.deb
if [[ ! -f $deb ]]; then
  ls -l "$tmp/out" >&2
  fail "no $(basename "$deb") written"
  exit 1
fi
pass "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

info=$(dpkg-deb -I "$deb")
expect_line "$info" '^ Package: stockgrid$' "package name"
expect_line "$info" "^ Version: ${version//./\\.}$" "version $version"
expect_line "$info" '^ Architecture: amd64$' "architecture"
expect_line "$info" '^ Depends: .*libc6 ' "dependencies computed (libc6)"
expect_line "$info" '^ Depends: .*libsqlite3-0' "dependencies computed (libsqlite3-0)"
expect_line "$info" '^ Depends: .*libcaf-core0\.17' "dependencies computed (libcaf-core0.17)"
expect_line "$info" '^ Depends: .*passwd' "depends on passwd (useradd)"

mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
if [[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" == /etc/stockgrid/stockgrid.conf ]]; then
  pass "conffiles: /etc/stockgrid/stockgrid.conf"
else
  fail "conffiles should list /etc/stockgrid/stockgrid.conf alone"
fi
for script in postinst prerm postrm; do
  if [[ -x $tmp/control/$script ]] && sh -n "$tmp/control/$script"; then
    pass "$script: executable, parses"
  else
    fail "$script missing, not executable or does not parse"
  fi
done
expect_line "$(cat "$tmp/control/postinst")" 'useradd --system' "postinst creates the system user"
expect_line "$(cat "$tmp/control/postinst")" 'install -d .*-o stockgrid' "postinst creates the data dir"

contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/stockgrid ./usr/bin/stockctl ./etc/stockgrid/stockgrid.conf \
            ./lib/systemd/system/stockgrid.service; do
  expect_line "$contents" " ${path//./\\.}$" "contains $path"
done
programs=$(awk '{print $NF}' <<<"$contents" | sed -n 's|^\./usr/bin/\(.\)|\1|p' | sort | tr '\n' ' ')
if [[ $programs == "stockctl stockgrid " ]]; then
  pass "/usr/bin holds stockctl and stockgrid only (no tests, no benchmarks)"
else
  fail "/usr/bin should hold stockctl and stockgrid only, holds: $programs"
fi

# The packaged files, unpacked into a root that also holds the system's
# units, so that systemd-analyze resolves ExecStart= and the targets.
root=$tmp/root
mkdir -p "$root/usr/lib/systemd"
dpkg-deb -x "$deb" "$root"

if readelf -S "$root/usr/bin/stockgrid" "$root/usr/bin/stockctl" | grep -Eq '\.(symtab|debug_info)'; then
  fail "the programs are not stripped"
else
  pass "programs stripped"
fi
if "$root/usr/bin/stockgrid" --help >/dev/null && "$root/usr/bin/stockctl" --help >/dev/null; then
  pass "stockgrid --help and stockctl --help run"
else
  fail "a packaged program does not run"
fi
# `check` reads the whole config file (an unknown key or a value out of
# bounds is refused) and then checks the (empty) data dir.
mkdir "$tmp/data"
if out=$("$root/usr/bin/stockgrid" check --config "$root/etc/stockgrid/stockgrid.conf" --data-dir "$tmp/data" 2>&1); then
  pass "the packaged config loads"
else
  fail "the packaged config is refused: $out"
fi
expect_line "$(cat "$root/etc/stockgrid/stockgrid.conf")" '^data-dir = "/var/lib/stockgrid"$' \
  "the packaged config names /var/lib/stockgrid"

unit=$root/lib/systemd/system/stockgrid.service
unit_text=$(cat "$unit")
expect_line "$unit_text" '^ExecStart=/usr/bin/stockgrid --config /etc/stockgrid/stockgrid\.conf --data-dir /var/lib/stockgrid$' "unit: ExecStart"
expect_line "$unit_text" '^User=stockgrid$' "unit: User=stockgrid"
expect_line "$unit_text" '^ReadWritePaths=/var/lib/stockgrid$' "unit: ReadWritePaths"
expect_line "$unit_text" '^ProtectSystem=strict$' "unit: ProtectSystem=strict"

if command -v systemd-analyze >/dev/null; then
  cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
  # verify exits 0 on unknown keys and bad values (it only warns), so any
  # output fails the check too.
  if out=$(systemd-analyze verify --root="$root" /lib/systemd/system/stockgrid.service 2>&1) && [[ -z $out ]]; then
    pass "systemd-analyze verify stockgrid.service"
  else
    fail "systemd-analyze verify stockgrid.service: $out"
  fi
else
  echo "SKIPPED (not passed): systemd-analyze verify: systemd-analyze is not installed on this machine"
fi

if ((failures > 0)); then
  echo "package_test: $failures check(s) failed" >&2
  exit 1
fi
echo "package_test: all checks passed"
dpkg-deb -c "$deb"
