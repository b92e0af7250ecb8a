"""Test helpers: start real Chronicle servers, reach real services."""
