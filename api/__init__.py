"""The HTTP service: FastAPI app, help widget and agent console. The library (`copilot`) does the
work; this package stays thin and holds no retrieval logic."""
