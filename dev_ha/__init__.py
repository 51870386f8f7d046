"""A real Home Assistant, started and set up from outside, for ``script/develop`` and the browser test.

Shared by ``tools/dev_onboard.py`` (``script/develop``) and ``tests/browser/``; it imports
neither (nor does it start the speech servers: each caller brings its own and passes their
ports), so tests and tools stay independent of each other.

- :mod:`dev_ha.process`: a config directory with the integration linked in, ``hass`` as a
  subprocess on 127.0.0.1, waiting until it serves, stopping it.
- :mod:`dev_ha.provision`: onboarding through HA's API, the ``wyoming`` integration pointed at
  local speech servers, the Hold Slayer demo line using them, and a dashboard with the card.
"""
