"""Payment providers (issue 28): the clients that create and fetch payment links, and the
verification of their webhooks. Beside `bot/providers`, the order-provider adapters."""
