"""Open311 GeoReport v2 at /open311/v2: the hotline's tickets as a standard service-request API.
The package's one entry is ``open311/plugin.py``."""
