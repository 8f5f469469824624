"""The foundation every layer stands on: run configuration, the model and data set registries, and the one owner of on-disk formats (atomic writes, a run folder's file names)."""
