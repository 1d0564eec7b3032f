"""Test doubles shipped with the library: a fake OpenAI-compatible server and a loopback server."""
