"""The only package that speaks IMAP (imapclient)."""
