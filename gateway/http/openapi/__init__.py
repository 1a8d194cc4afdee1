"""The gateway's OpenAPI 3.1 document (``document``) and the paths each API adds to it."""
