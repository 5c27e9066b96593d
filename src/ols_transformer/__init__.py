"""Replication of "Ordinary Least Squares is a Special Case of Transformer"."""
