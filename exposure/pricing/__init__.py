"""Pricers: one module per product family; a trade object is a batch of same-type trades priced as arrays."""
