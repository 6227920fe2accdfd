#!/usr/bin/env bash
# Every API version kwire-broker advertises is answered: kwire-probe sends a
# minimal request of each, on one connection, and decodes each response whole.
#   api_walk.sh <kwire-probe>
source "$(dirname "$0")/lib.sh"
start_broker
"$1" walk "$BOOTSTRAP"
