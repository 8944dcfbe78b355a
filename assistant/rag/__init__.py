"""Question in, answer out: query building, retrieval, composition and the Assistant service."""
