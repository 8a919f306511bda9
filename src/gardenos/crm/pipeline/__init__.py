"""The pipeline: the agency's leads by status, in pipeline order (`/api/v1/pipeline`)."""
