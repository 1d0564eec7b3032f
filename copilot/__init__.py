"""Support Copilot: grounded answers from a knowledge base, and honest handoffs to humans."""

__version__ = "0.1.0"
