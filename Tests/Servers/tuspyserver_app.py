"""tuspyserver (a FastAPI tus server from PyPI) for the client tests.

Run by scripts/test: uvicorn tuspyserver_app:app, with TUS_FILES_DIR naming
the folder it keeps uploads in. Each upload's bytes are in
$TUS_FILES_DIR/<upload id>.
"""
import os

from fastapi import FastAPI
from tuspyserver import create_tus_router

app = FastAPI()
app.include_router(create_tus_router(prefix="files", files_dir=os.environ["TUS_FILES_DIR"]))
