"""`make bench`: the page benchmark harness (see bench/README.md)."""
