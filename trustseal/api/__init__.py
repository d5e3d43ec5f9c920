"""HTTP API plumbing shared by every domain: errors, auth, pagination, fields."""
