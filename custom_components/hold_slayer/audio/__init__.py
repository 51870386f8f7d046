"""Audio: numpy DSP on 20 ms int16 frames at 8 kHz (tones, classifier, hold monitor). No HA imports."""
