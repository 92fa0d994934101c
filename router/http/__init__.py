"""The HTTP listener: the public edge, the API and its OpenAPI document."""
