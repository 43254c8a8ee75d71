#!/usr/bin/env bash
# Make a fresh machine ready: Debian's FashionMNIST, a virtualenv in .venv, this package with its test extras.
# Idempotent: a second run only checks. Needs root (or sudo) for apt-get on a machine without the dataset.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -d /usr/share/datasets/fashion-mnist ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }
quiet .venv/bin/python -m pip install -q --upgrade pip
quiet .venv/bin/python -m pip install -q -e ".[test${EXTRAS:+,$EXTRAS}]"
.venv/bin/python -c "import condense, torch, torchvision, snakemake"
