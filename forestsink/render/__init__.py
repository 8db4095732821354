"""Rendering: interactive maps (folium) and reports, from computed tables."""
