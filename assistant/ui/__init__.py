"""Gradio front end: ``create_app(assistant)`` builds it, ``launch`` serves it."""
