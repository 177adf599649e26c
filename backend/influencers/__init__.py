"""Influencers (personas): who speaks, how, to whom; their style documents and style profile."""
