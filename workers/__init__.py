"""The Celery side of syndicate: the app (`workers.app`) and its thin tasks (`workers.tasks`)."""
