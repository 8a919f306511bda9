"""Files kept beside leads, clients and activities, in storage."""
