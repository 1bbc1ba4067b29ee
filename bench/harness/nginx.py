"""The upstream: nginx from Debian's packages answering from memory.

``POST /v1/chat/completions`` answers the fixed completion; a request that accepts
``text/event-stream`` (a gateway asking for a stream does) is rewritten to an internal
location answering the fixed SSE stream. nginx runs in the foreground (``daemon off``)
as a child of the harness, with its prefix, pid, logs and temp dirs in a temp directory.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.fixtures import completion_body, sse_body

CONFIG = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location = /v1/chat/completions {{
            if ($http_accept ~* event-stream) {{ rewrite ^ /sse last; }}
            default_type application/json;
            return 200 '{completion}';
        }}
        location = /sse {{
            internal;
            default_type text/event-stream;
            add_header Cache-Control no-cache;
{sse_parts}
            return 200 '{sse}';
        }}
    }}
}}
"""


PART = 2000
"""Characters of the SSE body per nginx variable (a config token is at most 4 KB)."""


def _quote(text: str) -> str:
    """Text for a single-quoted nginx string (``return`` also expands ``$``: none here)."""
    if "$" in text:
        raise ValueError("fixed bodies must not contain '$'")
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise SystemExit("nginx is not installed: run `bash bench/setup.sh`")
    return found


def write_config(root: Path, port: int) -> Path:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / name).mkdir(parents=True, exist_ok=True)
    path = root / "nginx.conf"
    # nginx caps one config token at 4 KB: the stream is set in parts, then returned as their sum
    body = sse_body()
    parts = [body[i:i + PART] for i in range(0, len(body), PART)]
    sse_parts = "\n".join(f"            set $sse{i} '{_quote(part)}';" for i, part in enumerate(parts))
    path.write_text(CONFIG.format(root=root, port=port, completion=_quote(completion_body()), sse_parts=sse_parts,
                                  sse="".join(f"$sse{i}" for i in range(len(parts)))))
    return path


def start_nginx(root: Path, port: int, cpus: str) -> subprocess.Popen:
    """nginx in the foreground, pinned to ``cpus``; stop it with ``terminate()``."""
    config = write_config(root, port)
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-q", "-p", str(root), "-c", str(config)],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise SystemExit(f"nginx rejected its config:\n{check.stderr}")
    with open(root / "stderr.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(["taskset", "-c", cpus, binary, "-p", str(root), "-c", str(config)],
                                stdout=log, stderr=subprocess.STDOUT)
