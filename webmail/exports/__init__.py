"""Exports of mail as files: the mboxrd and zip writers over the fetched pieces, how far an
export is, and background exports written to the data folder by ``webmail worker``."""
