"""What the API answers: one pydantic model per resource, so that the OpenAPI schema types every
response and a generated client gets typed objects instead of opaque dictionaries.

The models forbid keys they do not name: a field added to a domain object's ``as_json`` without its
model fails the suite's tests instead of reaching integrators untyped. Times are ISO 8601 strings with
an offset everywhere (``format: date-time`` in the schema)."""
