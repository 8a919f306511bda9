"""Activities (notes, calls, emails, meetings, tasks) on leads and clients, and the records' timelines."""
