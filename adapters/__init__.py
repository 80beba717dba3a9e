"""Adapters: one module per framework, each claiming its array type through the
``spectralcore_array_adapter`` hook. ``array_api`` is the fallback for any Array-API array."""
