"""The KB as docs owners write it: parse the markdown articles and lint them."""
