"""What the kernel says about processes and sockets (/proc), for tests that start real
processes: which addresses listen on a port, which processes are left in a session."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LISTEN = "0A"


def _address(hex_address: str) -> IPAddress:
    """/proc/net/tcp{,6} print an address as 32-bit words in host byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def listening_addresses(port: int) -> set[IPAddress]:
    """The local addresses of the TCP sockets listening on ``port`` (IPv4 and IPv6)."""
    found: set[IPAddress] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == _LISTEN and int(hex_port, 16) == port:
                found.add(_address(address))
    return found


def is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def session_members(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live (not zombie) process of session ``sid``: a process
    started with ``start_new_session=True`` and everything it started, wherever they were
    re-parented, unless one left the session on purpose."""
    members: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # After the ")" closing the command name: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[-1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append((int(entry.name), cmdline))
    return members
