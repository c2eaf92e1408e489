#!/usr/bin/env bash
# Starts the action server and the Rasa server; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
WEB_PORT=${WEB_PORT:-8080}
export ACTION_PORT
export TWILIO_AUTH_TOKEN=${TWILIO_AUTH_TOKEN:-} SMS_PUBLIC_URL=${SMS_PUBLIC_URL:-}
export WIDGET_ORIGINS=${WIDGET_ORIGINS:-http://localhost:$WEB_PORT,http://127.0.0.1:$WEB_PORT}
mkdir -p var

.venv/bin/rasa run actions --port "$ACTION_PORT" --actions actions &
action_server=$!
.venv/bin/python -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory build/web >/dev/null 2>&1 &
web_server=$!
trap 'kill "$action_server" "$web_server" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT TERM

cat <<MSG

  The assistant is starting on http://localhost:$RASA_PORT (actions on port $ACTION_PORT).
  Once it says "Rasa server is up and running":
    web demo (a hospital page with the chat widget):  http://localhost:$WEB_PORT/
    nurse console (accounts: python -m assistant.accounts add NAME): http://localhost:$RASA_PORT/webhooks/nurse/
    REST:  curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender": "me", "message": "how long does kyphoplasty take?"}'
  Press Ctrl-C to stop.

MSG
.venv/bin/rasa run --port "$RASA_PORT" --endpoints endpoints.yml --credentials credentials.yml
