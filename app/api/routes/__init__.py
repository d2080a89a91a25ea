"""One router per resource; :func:`app.api.main.create_app` mounts them all."""
