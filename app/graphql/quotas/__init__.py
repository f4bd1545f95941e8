"""Quotas: each user's and team's limits and GPU usage, and the admin mutation that sets them."""
