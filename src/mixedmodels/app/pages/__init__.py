"""The explorer's pages: each has a layout and registers its callbacks."""
