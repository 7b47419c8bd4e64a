"""Network front ends: the Telegram bot and the aiohttp server (installed as quotebot.bot)."""
