"""Chronicle benchmark: Chronicle on PostgreSQL vs a null ASGI app, same signed load generator."""
