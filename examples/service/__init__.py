"""A reference service (FastAPI + uvicorn) that runs on tierconf's live configuration.

See README.md in this directory: one command to start it, one to change its rate limit
while it runs.
"""
