"""`signstream collect`: record live keypoint sequences into the recipe's MP_DATA layout."""
