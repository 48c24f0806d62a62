"""Adapters against the real sandbox servers, over real HTTP on 127.0.0.1.

The sandbox fixtures live in tests/conftest.py (the service tests use them too)."""
