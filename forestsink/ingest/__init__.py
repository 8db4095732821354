"""Reading what counties deliver: files, encodings, CRS, column names, types."""

from forestsink.ingest.read import Delivery, find_delivery_files, read_delivery

__all__ = ["Delivery", "find_delivery_files", "read_delivery"]
