"""The POP3 fetcher: the only package that speaks POP3 (poplib)."""
