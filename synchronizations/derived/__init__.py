"""Data the database derives from the syncs and keeps exact by itself: the counts
per mapping and status, and the text search index. schema.py holds the SQL that
makes and keeps them; synchronizations.search and models.SyncCount read them."""
