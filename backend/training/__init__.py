"""LoRA training: presets, parameter validation, estimates, runs as jobs, and the trained LoRAs."""
