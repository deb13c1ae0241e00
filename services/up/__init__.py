"""`signstream up`: the whole pipeline on one machine, without Docker."""
