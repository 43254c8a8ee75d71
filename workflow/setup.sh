#!/usr/bin/env bash
# Make a fresh machine ready: Debian's FashionMNIST, a virtualenv in .venv, this package with its test extras.
# Idempotent: a second run only checks. Needs root (or sudo) for apt-get on a machine without the dataset.
# SLURM (the `slurm` extra, always; the Debian daemons for tests/test_slurm.py's local cluster):
# INSTALL_SLURM=auto (default: when run as root), 1 (also through sudo) or 0 (never).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -d /usr/share/datasets/fashion-mnist ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
case "${INSTALL_SLURM:-auto}" in
    1) want_slurm=1 ;;
    0) want_slurm=0 ;;
    *) want_slurm=$([ "$(id -u)" = 0 ] && echo 1 || echo 0) ;;
esac
have_slurm() { for tool in slurmctld slurmd sbatch munged; do command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || return 1; done; }
if [ "$want_slurm" = 1 ] && ! have_slurm; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }
quiet .venv/bin/python -m pip install -q --upgrade pip
quiet .venv/bin/python -m pip install -q -e ".[test,slurm${EXTRAS:+,$EXTRAS}]"
.venv/bin/python -c "import condense, torch, torchvision, snakemake"
