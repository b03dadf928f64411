"""Einstein Language API: wire models, the one retry policy, answers explained, client and its
transport, tokens."""
