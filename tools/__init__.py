"""Development tools: corpus generation, classifier training, the classify CLI."""
