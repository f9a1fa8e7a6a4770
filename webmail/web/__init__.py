"""Routes, templates and htmx partials; speaks no mail protocol."""
