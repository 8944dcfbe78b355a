#!/bin/sh
# Entry point of the app container (deploy/Dockerfile): bring the index up to date with corpus/, then serve.
#
# With arguments it runs them instead, e.g.
#   docker compose -f deploy/compose.yaml run --rm --no-deps app knee-assistant staff hash-password
set -eu

# compose passes a variable left empty in deploy/.env as "" (KNEE_UI__STAFF_PASSWORD_HASH= ...); here empty means
# unset, so no staff hash means no staff console rather than a refused start.
for name in $(env | sed -n 's/^\(KNEE_[A-Za-z0-9_]*\)=$/\1/p'); do
    unset "$name"
done

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

# A Chroma server starts in a few seconds; wait for it (at most 2 minutes) instead of failing the first ingest.
if [ -n "${KNEE_STORE__URL:-}${KNEE_CHROMA_URL:-}" ]; then
    python - <<'PY'
import os, sys, time, urllib.request

url = (os.environ.get("KNEE_STORE__URL") or os.environ["KNEE_CHROMA_URL"]).rstrip("/")
deadline = time.monotonic() + 120
waiting = False
while True:
    try:
        with urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=5):
            break
    except OSError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"entrypoint: the Chroma server at {url} did not answer for 2 minutes ({exc})")
        if not waiting:
            print(f"entrypoint: waiting for the Chroma server at {url}", file=sys.stderr, flush=True)
            waiting = True
        time.sleep(2)
PY
fi

# Unchanged files cost nothing, so this is quick after the first start. A file that fails (named in the report) does
# not keep the chat offline: serve refuses by itself when the index is missing or empty.
if ! knee-assistant ingest corpus --if-stale; then
    echo "entrypoint: ingest reported problems (above); serving what the index holds" >&2
fi

exec knee-assistant serve --host 0.0.0.0 --port 7860
