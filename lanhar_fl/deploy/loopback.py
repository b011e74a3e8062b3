"""A real Flower deployment on loopback: SuperLink, SuperNodes and ``flwr`` calls, every process
started in its own session, logged, remembered by PID (children included) and ended by PID.

Used by the deployment tests (``tests/deploy/``) and ``lanhar-fl bench deployment``: TLS with
certificates from ``lanhar_fl.deploy.certs``, ``--enable-supernode-auth``, keys registered with
``flwr supernode register``, a temporary ``FLWR_HOME``, free ports. Linux only (``/proc``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FLOWER_TOOLS = ("flower-superlink", "flower-supernode", "flower-superexec", "flwr")


# ---------------------------------------------------------------- processes, by PID


def _start_time(pid: int) -> int | None:
    """The kernel start time of ``pid`` (tells a live process from a reused PID)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def flower_env(root: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for every process: this interpreter's ``bin/`` first on ``PATH`` (the
    SuperLink and SuperNodes start ``flower-superexec`` from it), ``FLWR_HOME`` under ``root``,
    no update check, offline Hugging Face, the server's cache under ``root``."""
    scripts = sysconfig.get_path("scripts")
    missing = [t for t in FLOWER_TOOLS if not (Path(scripts) / t).exists()]
    if missing:
        raise RuntimeError(f"{missing} not installed in {scripts}")
    env = dict(os.environ if base is None else base)
    env.update(FLWR_HOME=str(root / "flwr-home"), FLWR_DISABLE_UPDATE_CHECK="1",
               LANHAR_FL_CACHE=str(root / "server-cache"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1",
               PATH=f"{scripts}{os.pathsep}{env.get('PATH', '')}")
    return env


@dataclass
class Deployment:
    """Processes of one deployment: started in their own sessions, logged, ended by PID."""

    root: Path
    env: dict[str, str]
    connection: str = "lanhar-test"
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    seen: dict[int, tuple[int, str]] = field(default_factory=dict)  # pid -> (start, name)

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def start(self, name: str, *args: str, cwd: Path = REPO_ROOT) -> subprocess.Popen:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self.env, cwd=cwd,
                                    start_new_session=True)
        self.procs[name] = proc
        self.track()
        return proc

    def track(self) -> None:
        """Remember every live process of the deployment (children appear and go)."""
        for name, proc in self.procs.items():
            for pid in [proc.pid, *_descendants(proc.pid)]:
                start = _start_time(pid)
                if start is not None:
                    self.seen.setdefault(pid, (start, name))

    def text(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")

    def flwr(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["flwr", *args], env=self.env, cwd=REPO_ROOT, timeout=timeout,
                              capture_output=True, text=True)

    def nodes(self) -> dict[str, str]:
        """node id -> status, as the SuperLink reports them (``flwr supernode list``)."""
        res = self.flwr("supernode", "list", self.connection, "--format", "json")
        if res.returncode != 0:
            raise RuntimeError(res.stdout + res.stderr)
        return {n["node-id"]: n["status"] for n in json.loads(res.stdout)["nodes"]}

    def run_status(self, run_id: str) -> str:
        """``finished:completed`` and the like, as ``flwr list --run-id`` reports it."""
        res = self.flwr("list", self.connection, "--run-id", run_id, "--format", "json")
        runs = json.loads(res.stdout).get("runs", []) if res.returncode == 0 else []
        return runs[0]["status"] if runs else f"unknown: {res.stdout} {res.stderr}"

    def kill_group(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.track()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)

    def kill_tree(self, name: str, sig: int = signal.SIGKILL) -> None:
        """``sig`` to the group of ``name`` and to every process seen under it (children in
        sessions of their own, like the SuperLink's ``flower-superexec``, included)."""
        self.kill_group(name, sig)
        for pid, (start, owner) in self.seen.items():
            if owner == name and _start_time(pid) == start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.procs[name].wait(timeout=10)

    def alive(self) -> list[str]:
        return [f"{pid} ({name})" for pid, (start, name) in self.seen.items()
                if _start_time(pid) == start and not _zombie(pid)]

    def stop(self, grace_s: float = 15.0) -> list[str]:
        """SIGTERM every process group and every tracked PID, SIGKILL what is left after
        ``grace_s``; the processes still alive after that (should be none)."""
        self.track()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        self._signal_seen(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self.alive() and time.monotonic() < deadline:
            for proc in self.procs.values():
                proc.poll()  # reap our direct children
            time.sleep(0.2)
        self._signal_seen(signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        time.sleep(0.5)
        return self.alive()

    def _signal_seen(self, sig: int) -> None:
        for pid, (start, _) in self.seen.items():
            if _start_time(pid) == start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)


def wait_until(condition: Callable[[], object], timeout: float, what: str,
               every: float = 0.5) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------- the parts of a deployment


def start_superlink(dep: Deployment, certs: Path, port: int, database: Path | None = None,
                    name: str = "superlink") -> subprocess.Popen:
    """A SuperLink with TLS and SuperNode authentication on 127.0.0.1:``port`` (its state in
    ``database`` when given, else in memory), and the ``flwr`` connection to it; returns once
    the port accepts connections."""
    args = ["flower-superlink", "--ssl-ca-certfile", str(certs / "ca.crt"),
            "--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "server.key"),
            "--enable-supernode-auth", "--host", "127.0.0.1", "--port", str(port),
            "--disable-runtime-dependency-installation"]
    if database is not None:
        args += ["--database", str(database)]
    proc = dep.start(name, *args)
    home = Path(dep.env["FLWR_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    c = dep.connection
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{c}"\n\n[superlink.{c}]\n'
        f'address = "127.0.0.1:{port}"\nroot-certificates = "{certs / "ca.crt"}"\n')
    wait_until(lambda: port_open(port) or proc.poll() is not None, 60, "the SuperLink port")
    if proc.poll() is not None:
        raise RuntimeError(f"the SuperLink exited: {dep.text(name)[-2000:]}")
    return proc


def register(dep: Deployment, keys: Sequence[Path]) -> set[str]:
    """Register the public keys ``keys`` (``*.pub``) with the SuperLink; their node ids. In
    parallel: each ``flwr`` call costs ~2 s of start-up."""
    procs = [subprocess.Popen(["flwr", "supernode", "register", str(key), dep.connection,
                               "--format", "json"], env=dep.env, cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for key in keys]
    ids = set()
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"flwr supernode register failed: {out}")
        ids.add(str(json.loads(out[out.index("{"):])["node-id"]))
    return ids


def supernode_args(port: int, link_port: int, certs: Path, key: Path, node_config: str,
                   ) -> list[str]:
    return ["flower-supernode", "--superlink", f"127.0.0.1:{link_port}",
            "--root-certificates", str(certs / "ca.crt"),
            "--auth-supernode-private-key", str(key), "--port", str(port),
            "--node-config", node_config]


def wait_online(dep: Deployment, count: int, timeout: float = 120) -> dict[str, str]:
    """Wait until ``count`` SuperNodes are online; node id -> status."""
    def online() -> dict[str, str] | None:
        nodes = dep.nodes()
        return nodes if sum(s == "online" for s in nodes.values()) >= count else None

    return wait_until(online, timeout, f"{count} SuperNodes online", every=1.0)
