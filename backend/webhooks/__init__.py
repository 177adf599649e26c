"""Job webhooks: signed job_completed / job_failed events delivered to the workspace's URLs."""
