"""Indexing: chunk the articles, embed them, and write a new index generation beside the old."""
