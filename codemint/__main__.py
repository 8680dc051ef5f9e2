from codemint.cli import app

app()
