"""The sync engine: change detection (detect.py), processing of one sync
(process.py), field mapping (fieldmap.py) and the error types connectors raise."""
