from api import handle_request

print(handle_request(" go "))
