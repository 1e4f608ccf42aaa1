"""OpenAPI descriptions of how annotators authenticate (a signed link token or a session)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class WorkerAuthScheme(OpenApiAuthenticationExtension):
    target_class = "backend.crowd.api._LaxSession"
    name = ["workerToken", "annotatorSession"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-Worker-Token",
             "description": "The signed token of an annotator link (the `w` parameter)."},
            {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        ]
