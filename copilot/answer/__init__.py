"""Answering: rank the articles, judge how sure we are, and reply (answer, clarify, hand off)."""
