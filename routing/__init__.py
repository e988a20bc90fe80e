"""Where work goes: the dispatch catalogue, the text classifier and the duplicate finder."""
