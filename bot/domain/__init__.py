"""Domain rules of a consultation: plain Python, no aiogram, no SQL; tested directly."""
