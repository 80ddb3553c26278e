#!/bin/sh
# Make sure Graphviz's `dot` program is on PATH (the graph figures are laid out by it).
# Installs it when that needs no questions (root, with apt-get); otherwise says how, and fails.
set -eu

if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Graphviz's dot program is missing: installing it with apt-get" >&2
    # In an `if`, so that a failed apt-get still ends with the instructions below.
    if DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y graphviz \
        && command -v dot >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "microtrace needs Graphviz's dot program, which is not installed. Install it with one of:" >&2
echo "sudo apt-get install graphviz" >&2
echo "brew install graphviz" >&2
exit 1
