"""Local stand-ins for Slack and the providers, strict about what they accept."""
