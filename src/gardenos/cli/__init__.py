"""The `gardenos` command."""
