"""Game manuals shipped as data (one text file per game)."""
