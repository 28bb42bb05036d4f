"""Approval flows with electronic signatures, generic over the object types other domains register."""
