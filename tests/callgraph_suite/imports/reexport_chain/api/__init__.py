from .v1 import handle as handle_request
