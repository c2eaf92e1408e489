"""The assistant's core: knowledge, dialogue decisions and rendering, free of Rasa."""
