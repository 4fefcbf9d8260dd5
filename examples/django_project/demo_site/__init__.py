"""The example Django project: the asgi-consent demo page, served through ConsentMiddleware."""
