"""Example agents of docs/byo-agent.md: small, real agent loops on the official SDKs and on httpx."""
