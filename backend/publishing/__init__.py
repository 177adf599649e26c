"""Publishing posts: accounts with encrypted tokens, media checks, the webhook and Instagram publishers."""
