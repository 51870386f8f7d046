"""Speech for the core: STT/TTS protocols, PCM conversions, and the HA-free engines behind them."""
