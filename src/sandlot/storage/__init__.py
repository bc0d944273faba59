"""The only package that knows SQL: models, migrations and repositories."""
