"""What the tests, the tools and the benchmarks share.

The test servers, the labelled-audio corpus, signal generators, the speech-server launcher and
the simulation runner. Tests, tools and benchmarks import from here and never from one another.
"""
