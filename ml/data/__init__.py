"""Data in: dataset specs, raw files, validation, preprocessing, replay of historic data, labels."""
