"""archiver: keeps every image-generation record and file your providers ever served."""

__version__ = "0.1.0"
