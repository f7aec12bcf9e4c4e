"""Small shared catalogs: facts and naming rules used by both the config layer and the components (no imports from either)."""
