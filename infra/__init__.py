"""The ai-serving stack program: typed config in, components out."""
