"""What the tests, the tools and the benchmarks share.

The test servers, the labelled-audio corpus, signal generators, the speech-server launcher,
the simulation runner and a home router in network namespaces. Tests, tools and benchmarks
import from here and never from one another.
"""
