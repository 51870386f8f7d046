"""The dashboard card in a real Home Assistant, in Debian's headless Chromium."""
