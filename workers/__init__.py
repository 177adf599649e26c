"""Dramatiq workers: broker wiring, thin actors, and the pipelines they run."""
