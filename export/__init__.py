"""Training corpora for the rtsynth models (numpy/scipy only; torch only where training needs it)."""
