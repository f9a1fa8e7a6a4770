"""Sending mail: the only package that speaks SMTP (aiosmtplib)."""
