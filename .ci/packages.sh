# shellcheck shell=bash
# What a fresh Debian/Ubuntu machine lacks for the tests, sourced by .ci/run.
#
# needed_packages prints the system packages to install: git and OpenSSH's client tools (keys,
# signatures, ssh-agent), python3, and python3-venv (Debian's python3 has no ensurepip, so
# `python3 -m venv` fails without it). require_python stops with the fix when python3 is older
# than the package needs (pyproject.toml: requires-python >= 3.11).

needed_packages() {
  local need=()
  command -v git >/dev/null 2>&1 || need+=(git)
  if ! command -v ssh-keygen >/dev/null 2>&1 || ! command -v ssh-agent >/dev/null 2>&1; then
    need+=(openssh-client)
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    need+=(python3 python3-venv)
  elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need+=(python3-venv)
  fi
  echo "${need[*]}"
}

require_python() {
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    echo "error: the tests need Python 3.11 or newer as python3 (this machine has $(python3 --version 2>&1))" >&2
    echo "  fix: use Debian 12 / Ubuntu 24.04 or newer, or put a newer python3 first on PATH" >&2
    return 1
  fi
}

has_chromium() {
  # Debian names it chromium, Ubuntu's deb (and some images) chromium-browser; the tests accept both
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}
