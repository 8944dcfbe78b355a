"""Files in, chunks out: load documents, split them, sync them into the store."""
