"""Recording: conversations, handoffs, drafts and the reports and gaps read from them."""
