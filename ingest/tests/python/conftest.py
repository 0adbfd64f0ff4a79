import importlib
import os
import pathlib
import socket
import sys

import pytest
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _bin(var, name):
    path = os.environ.get(var) or str(ROOT / "target" / "debug" / name)
    if not os.path.exists(path):
        pytest.fail(f"{name} not built at {path}: run the README's test command")
    return path


@pytest.fixture(scope="session")
def hotlined():
    return _bin("HOTLINED", "hotlined")


@pytest.fixture(scope="session")
def hotline_bench():
    return _bin("HOTLINE_BENCH", "hotline-bench")


_GIVEN_PORTS = set()


def free_port():
    """A loopback port free now, never the same twice in this session (two
    binds of port 0 in a row can return the same port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    out = tmp_path_factory.mktemp("stubs")
    import grpc_tools
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main(["protoc", f"-I{ROOT / 'proto' / 'proto'}", f"-I{well_known}", f"--python_out={out}",
                      f"--grpc_python_out={out}", "hotline/v1/hotline.proto"])
    assert rc == 0
    for d in (out / "hotline", out / "hotline" / "v1"):
        (d / "__init__.py").touch()
    sys.path.insert(0, str(out))
    pb = importlib.import_module("hotline.v1.hotline_pb2")
    rpc = importlib.import_module("hotline.v1.hotline_pb2_grpc")
    return pb, rpc




def start_daemon(hotlined, workdir, config=None):
    """A hotlined serve child on free loopback ports; returns (proc, grpc_addr, admin_port)."""
    import subprocess
    import time
    import urllib.request
    grpc_port, admin_port = free_port(), free_port()
    args = [hotlined, "serve", "--grpc-addr", f"127.0.0.1:{grpc_port}", "--admin-addr", f"127.0.0.1:{admin_port}",
            "--data-dir", str(pathlib.Path(workdir) / "data")]
    if config is not None:
        path = pathlib.Path(workdir) / "hotlined.toml"
        path.write_text(config)
        args += ["--config", str(path)]
    log = open(pathlib.Path(workdir) / "hotlined.log", "wb")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"hotlined exited: {(pathlib.Path(workdir) / 'hotlined.log').read_text()}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1).status == 200:
                return proc, f"127.0.0.1:{grpc_port}", admin_port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("hotlined did not become ready")


def ticks(admin_port, task):
    """hotline_ticks_total{task=...}: the rounds the daemon's per-second task has done."""
    import re
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
    m = re.search(r'^hotline_ticks_total\{task="' + re.escape(task) + r'"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def wait_ticks(admin_port, task, n=2, timeout=10):
    """Waits until `task` has done `n` more rounds than now: what it sets from
    what was sent before the call is then set. Not a sleep: the daemon's own count."""
    import time
    start = ticks(admin_port, task)
    deadline = time.time() + timeout
    while ticks(admin_port, task) < start + n:
        if time.time() > deadline:
            pytest.fail(f"{task}: no {n} rounds in {timeout} s")
        time.sleep(0.05)
