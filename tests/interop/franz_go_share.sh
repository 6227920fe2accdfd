#!/usr/bin/env bash
# franz-go's share consumer (share groups, KIP-932) against kwire-broker
# (go/franzshare): exactly-once between three consumers, release, reject and
# the delivery count limit, which is 3 here so that the limit comes soon.
source "$(dirname "$0")/lib.sh"
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/franzshare" "$WORK/franzshare" >/dev/null
start_broker --group.share.delivery.count.limit=3
"$WORK/franzshare" -brokers "$BOOTSTRAP"
