"""The citizen web portal: submit a request, follow it, read the reply and rate it, published letters."""
