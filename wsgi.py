"""What gunicorn serves: ``gunicorn wsgi:app``."""

from trustseal import create_app

app = create_app()
