"""Base model catalogue: SD 1.5 / SDXL checkpoints found on disk plus the built-in demo models."""
