"""Rasa input channels of this project: the website widget and SMS."""
