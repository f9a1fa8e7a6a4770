"""Server-side filters over ManageSieve (RFC 5804): the client, the rules model, vacation, forwarding."""
