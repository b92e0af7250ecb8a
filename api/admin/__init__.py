"""MinIO admin API v3 support: madmin's payload encryption, endpoint table, JSON shapes."""
