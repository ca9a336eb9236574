"""Widgets that subscribe to the document model."""
