"""Small AWS adapters: each wraps one service behind a narrow interface."""
