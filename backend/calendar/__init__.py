"""Content calendar: posts with per-target status, slots, approval, plans and the scheduler."""
