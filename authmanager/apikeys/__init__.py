"""API keys beside sessions."""
