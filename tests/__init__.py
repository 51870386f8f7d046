"""Tests for Hold Slayer."""
