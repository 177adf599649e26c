"""The work itself: training, generation, captions, ingest, publishing. Each module registers its handlers."""
