"""Concrete backends: the embedding model, the vector store and chat models. Only this layer imports them."""
