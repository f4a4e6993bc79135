#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: every test.  The runner's last line is 'N passed, N failed'.
set -uo pipefail
. "$(dirname "$0")/common.sh"
exec python3 "$KESYNC_ROOT/scripts/runner.py" "$@"
