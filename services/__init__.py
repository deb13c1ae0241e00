"""The signstream services, one folder each, and the `signstream` command that starts them."""
