"""Declarative search-space definitions (YAML), installed as package data ``eeea.search_spaces``."""
