"""Einstein Language API: wire models, token minting, the client and a local simulator."""
