"""Data loaders (image and audio) and the small real data sets embedded in the package."""
