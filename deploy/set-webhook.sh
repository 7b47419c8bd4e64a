#!/usr/bin/env sh
# Register (or with --delete, remove) the Telegram webhook for a running deployment.
# Reads TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET and TELEGRAM_WEBHOOK_URL from the
# environment (e.g. `set -a; . deploy/quotebot.env; set +a`); never prints the token.
set -eu
if [ "${1:-}" = "--delete" ]; then
  exec quotebot telegram --delete-webhook
fi
: "${TELEGRAM_BOT_TOKEN:?set TELEGRAM_BOT_TOKEN}"
: "${TELEGRAM_WEBHOOK_SECRET:?set TELEGRAM_WEBHOOK_SECRET}"
: "${TELEGRAM_WEBHOOK_URL:?set TELEGRAM_WEBHOOK_URL (https://…/telegram/webhook)}"
exec quotebot telegram --set-webhook "$TELEGRAM_WEBHOOK_URL"
