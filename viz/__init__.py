"""Figures of what the tracer recorded, and the command-line interface."""
