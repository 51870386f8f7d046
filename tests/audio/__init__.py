"""Tests of the HA-free audio analysis."""
