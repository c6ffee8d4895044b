#!/bin/bash
# `cmake --install` as a user would run it: into a temporary --prefix, then
# staged under DESTDIR for another prefix. Checks the installed tree, that the
# installed binary runs (and finds the installed demo zoo, not the source
# tree's), that the Slurm templates name the installed binary, and that a
# small C program compiles and links against libsparsify through pkg-config.
# Usage: check_install.sh CMAKE BUILD_DIR
set -u
CMAKE=$1
BUILD=$2
SRC=${SPARSIFY_SOURCE_DIR:?}
T=$(mktemp -d /tmp/sparsify-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

P=$T/prefix
"$CMAKE" --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 || { cat "$T/install.log"; echo "FAIL: cmake --install"; exit 1; }
libdir=$(sed -n 's/^libdir=\${prefix}\///p' "$P"/lib*/pkgconfig/sparsify.pc "$P"/lib/*/pkgconfig/sparsify.pc 2>/dev/null | head -n 1)
[ -n "$libdir" ] || { echo "FAIL: no sparsify.pc with a libdir line under $P"; find "$P" | head -50; exit 1; }

# ---- the tree ------------------------------------------------------------------
[ -x "$P/bin/sparsify" ] || fail "bin/sparsify missing or not executable"
[ -L "$P/bin/sparsify.run" ] && [ "$(readlink "$P/bin/sparsify.run")" = sparsify ] ||
  fail "bin/sparsify.run is not a relative symlink to sparsify"
for f in libsparsify.so libsparsify.so.0; do
  [ -L "$P/$libdir/$f" ] || fail "$libdir/$f (symlink) missing"
done
ls "$P/$libdir"/libsparsify.so.0.* >/dev/null 2>&1 || fail "$libdir/libsparsify.so.0.x.y missing"
for h in "$SRC"/include/sparsify/*.h; do
  cmp -s "$h" "$P/include/sparsify/$(basename "$h")" || fail "include/sparsify/$(basename "$h") missing or differs"
done
[ -s "$P/share/man/man1/sparsify.1" ] || fail "share/man/man1/sparsify.1 missing"
for f in sparsify-oneshot.sbatch sparsify-sweep.sbatch README.md; do
  [ -s "$P/share/sparsify/slurm/$f" ] || fail "share/sparsify/slurm/$f missing"
done
[ -x "$P/share/sparsify/slurm/sparsify-oneshot.sbatch" ] || fail "the one-shot template is not executable"
grep -q "SPARSIFY=\${SPARSIFY:-$P/bin/sparsify}" "$P/share/sparsify/slurm/sparsify-oneshot.sbatch" ||
  fail "the installed one-shot template does not name $P/bin/sparsify"
grep -q "@[A-Z_]*@" "$P"/share/sparsify/slurm/*.sbatch && fail "a template keeps an unreplaced @VARIABLE@"
for f in hpc.md cli.md; do
  [ -s "$P/share/doc/sparsify/$f" ] || fail "share/doc/sparsify/$f missing"
done
for f in model.onnx data/sample_0000.npz; do
  [ -s "$P/share/sparsify/zoo/fashion-cnn/$f" ] || fail "share/sparsify/zoo/fashion-cnn/$f missing"
done

# ---- the installed binary runs, without LD_LIBRARY_PATH -------------------------
unset LD_LIBRARY_PATH SPARSIFY_ZOO
v=$("$P/bin/sparsify" --version 2>&1) || fail "installed sparsify --version failed: $v"
echo "$v" | grep -Eq '^sparsify [0-9]+\.[0-9]+\.[0-9]+$' || fail "unexpected --version output: $v"
v2=$("$P/bin/sparsify.run" --version 2>&1)
[ "$v2" = "$v" ] || fail "sparsify.run --version says '$v2'"
ldd "$P/bin/sparsify" | grep -q "libsparsify.so.0 => $P/" || fail "installed binary does not load the installed library"
# An unknown name makes sparsify say which zoo it searched: it must be the installed one.
msg=$(cd "$T" && "$P/bin/sparsify" one-shot -u ic -m no-such-entry -d fashion-cnn -l 0 -o "$T/o" 2>&1)
echo "$msg" | grep -q "$P/bin/../share/sparsify/zoo" || fail "installed binary does not use the installed zoo: $msg"
(cd "$T" && OPENBLAS_NUM_THREADS=1 "$P/bin/sparsify" one-shot -q -u ic -m fashion-cnn -d fashion-cnn -l 0 -o "$T/out") ||
  fail "installed sparsify could not run the demo from the installed zoo"
cmp -s "$SRC/demo/fashion-cnn/model.onnx" "$T/out/model.onnx" || fail "demo run from the installed zoo gave another model"

# ---- pkg-config and a C program ------------------------------------------------
export PKG_CONFIG_PATH=$P/$libdir/pkgconfig
[ "$(pkg-config --modversion sparsify)" = "${v#sparsify }" ] || fail "pkg-config --modversion disagrees with --version"
flags=$(pkg-config --cflags --libs sparsify) || fail "pkg-config --cflags --libs sparsify failed"
inc=$(pkg-config --variable=includedir sparsify)
[ "$(realpath "$inc")" = "$(realpath "$P/include")" ] || fail "pkg-config includedir is $inc, not $P/include"
cat >"$T/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <sparsify/status.h>
#include <sparsify/comm.h>
#include <sparsify/oneshot.h>

int main(void)
{
    struct sp_oneshot_config cfg;
    sp_oneshot_config_init(&cfg);
    const char *s = sp_status_str(SP_ERR_INTERRUPTED);
    printf("%s %s %.2f\n", s, cfg.output_dir, cfg.optim_level);
    return strcmp(s, "interrupted") != 0;
}
C
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror ${SPARSIFY_TEST_LINK_FLAGS:-} -o "$T/hello" "$T/hello.c" $flags 2>"$T/cc.log" ||
  { cat "$T/cc.log"; fail "a C program does not build against the installed library"; }
if [ -x "$T/hello" ]; then
  out=$(LD_LIBRARY_PATH=$P/$libdir "$T/hello") || fail "the C program failed: $out"
  [ "$out" = "interrupted sparsify-output 0.50" ] || fail "the C program printed '$out'"
fi
# Every public header compiles on its own, as C11 (not -pedantic: exact.h
# uses GCC's __int128) and as C++ (the extern "C" guards).
for h in "$P"/include/sparsify/*.h; do
  printf '#include <sparsify/%s>\nint main(void) { return 0; }\n' "$(basename "$h")" >"$T/h.c"
  cp "$T/h.c" "$T/h.cc"
  c++ -Wall -Werror -fsyntax-only -I"$P/include" "$T/h.cc" 2>"$T/h.log" ||
    { cat "$T/h.log"; fail "include/sparsify/$(basename "$h") does not compile alone in C++"; }
  cc -std=c11 -Wall -Werror -fsyntax-only -I"$P/include" "$T/h.c" 2>"$T/h.log" ||
    { cat "$T/h.log"; fail "include/sparsify/$(basename "$h") does not compile alone"; }
done

# ---- the man page lists what --help lists (a warning: docs trail new flags) ------
for flag in $("$P/bin/sparsify" one-shot --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  grep -q -- "\\\\-\\\\-${flag#--}" "$P/share/man/man1/sparsify.1" || echo "warning: man page lacks $flag"
done

# ---- DESTDIR: staged for /opt/sparsify -----------------------------------------
D=$T/stage
DESTDIR=$D "$CMAKE" --install "$BUILD" --prefix /opt/sparsify >"$T/destdir.log" 2>&1 ||
  { cat "$T/destdir.log"; fail "DESTDIR install failed"; }
[ -L "$D/opt/sparsify/bin/sparsify.run" ] && [ "$(readlink "$D/opt/sparsify/bin/sparsify.run")" = sparsify ] ||
  fail "DESTDIR: bin/sparsify.run is not a relative symlink to sparsify"
grep -q 'SPARSIFY=${SPARSIFY:-/opt/sparsify/bin/sparsify}' "$D/opt/sparsify/share/sparsify/slurm/sparsify-oneshot.sbatch" ||
  fail "DESTDIR: the template should name /opt/sparsify/bin/sparsify (without the staging root)"
[ -e /opt/sparsify/bin/sparsify.run ] && [ ! -e /opt/sparsify/bin/sparsify ] && fail "DESTDIR install wrote outside DESTDIR"

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "install tree OK: $P"
