"""Help before the ticket: product signals from the host page, the rules a support lead writes
over them, and the nudges (or quiet flags) they lead to (docs/proactive.md)."""
