"""Schedules of Jobs: the Schedule node, and the mutations that create and change them."""
