"""Datasets: upload, validate and curate the character's photo set (issue 3)."""
