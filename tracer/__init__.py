"""Record every scalar operation of one training step as a graph."""
