"""Pure mail handling: bytes in, objects out. No sockets, Redis or database."""
