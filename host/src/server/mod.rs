//! Public listener: HTTP/1.1 and HTTP/2, TLS, request intake and response writing.
