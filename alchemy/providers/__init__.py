"""The wire-API providers, one module each, sans-I/O (see :mod:`alchemy.providers.base`).

Each built-in provider registers itself lazily in :mod:`alchemy.api_registry`: its
module is imported the first time a model with its ``api`` is streamed.
"""
