"""The core: domain types, crypto, crash points and kinds. Imports nothing from bot, cogs or storage."""
