"""The HTTP service: FastAPI app, help widget and agent console. HTTP in, `copilot.service.Copilot`
calls out: this package holds no retrieval or storage logic."""
