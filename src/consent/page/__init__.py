"""What goes into a page: rewriting a response's start message, streaming the snippet into the
HTML body in the right encoding, rendering the templates in the visitor's language, and the UI
assets (``ui/``)."""
