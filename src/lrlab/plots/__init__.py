"""Figures of lrlab results, drawn on matplotlib ``Figure`` objects (never pyplot)."""
