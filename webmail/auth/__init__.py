"""Sign-in, server-side sessions in Redis, credential encryption and rate limiting."""
