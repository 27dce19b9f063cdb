"""Teaching experiments behind the Learn pages: divergences, the 1D game, the 2D toy lab."""
