"""`/rest/v1`: PostgREST's query grammar over the exposed tables, every request under RLS."""
