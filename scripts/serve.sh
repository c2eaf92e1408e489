#!/usr/bin/env bash
# Starts the action server and the Rasa server; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
export ACTION_PORT
mkdir -p var

.venv/bin/rasa run actions --port "$ACTION_PORT" --actions actions &
action_server=$!
trap 'kill "$action_server" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT TERM

cat <<MSG

  The assistant is starting on http://localhost:$RASA_PORT (actions on port $ACTION_PORT).
  Talk to it once it says "Rasa server is up and running":
    curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender": "me", "message": "how long does kyphoplasty take?"}'
  Socket.io clients connect to http://localhost:$RASA_PORT/socket.io. Press Ctrl-C to stop.

MSG
.venv/bin/rasa run --port "$RASA_PORT" --endpoints endpoints.yml --credentials credentials.yml
