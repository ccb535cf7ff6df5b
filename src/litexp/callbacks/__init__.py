"""Lightning callbacks litexp adds to every run."""
