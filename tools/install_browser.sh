#!/usr/bin/env bash
# Headless Chromium for the browser test: Debian's package (never `playwright install`,
# which downloads a browser build and fails offline).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
chromium --version
