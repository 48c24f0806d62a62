"""The offline demo: sandbox providers + the Discord emulator + the real bot process.

`LocalStack` (demo/stack.py) is also what the end-to-end tests drive."""
