"""hw_sim"""
