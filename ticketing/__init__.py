"""The one case record: models, lifecycle, deadlines, audit trail, services and REST API."""
