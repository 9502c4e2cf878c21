"""aiohttp-tus (a tus server from PyPI) for the client tests: a server with
the creation extension but not creation-with-upload, which ignores the body
of a POST.

    python aiohttp_tus_app.py PORT FOLDER

Listens on 127.0.0.1:PORT, at /uploads. A finished upload's bytes are in
FOLDER/<the upload's filename metadata>; files of the same name replace each
other.
"""
import sys
from pathlib import Path

from aiohttp import web
from aiohttp_tus import setup_tus

port, folder = int(sys.argv[1]), Path(sys.argv[2])
folder.mkdir(parents=True, exist_ok=True)
app = setup_tus(web.Application(), upload_path=folder, allow_overwrite_files=True)
web.run_app(app, host="127.0.0.1", port=port, print=None)
