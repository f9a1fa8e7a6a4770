"""The user's own data: contacts, identities, preferences, remote-content senders and saved searches.

One module per kind of data, each with its service; their queries live in webmail.db.repos.
"""
