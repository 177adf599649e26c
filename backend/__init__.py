"""InfluencerAI Studio domain layer: settings, database, storage, tenancy and one package per feature."""
