"""Tests of the HA-free telephony layer."""
