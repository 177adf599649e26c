"""Generation: assets (images, videos), content plans (captions by the LLM), image jobs, the gallery."""
