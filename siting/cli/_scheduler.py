"""Private: is a ``--scheduler`` address a Dask scheduler? Asked within a time limit, before dask.distributed is.

dask.distributed's connect waits without limit for the scheduler's greeting, so a port that accepts and stays
silent hangs ``siting batch`` for good, and it reads an HTTP server's reply as the length of a message
("Unable to allocate 3.07 EiB"). A Dask scheduler greets first, at once: its first 8 bytes are the length of
its handshake message (a few hundred bytes). :func:`check_scheduler` reads them with a deadline.
"""

from __future__ import annotations

import socket
import struct
import time

from ..errors import SitingError

#: Seconds to connect to a scheduler and hear its greeting (a scheduler on the network answers in milliseconds).
DEFAULT_CONNECT_TIMEOUT = 10.0
#: The longest greeting a Dask scheduler sends (its handshake: versions, compression, pickle protocol).
MAX_GREETING = 1 << 20


def check_scheduler(address: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
    """Refuse ``address`` unless a Dask scheduler greets there within ``timeout`` seconds.

    Only ``tcp://host:port`` (or ``host:port``) addresses are asked; others (``tls://``, ``ws://``) are left to
    dask.distributed's own connect.

    Raises
    ------
    SitingError
        An address that is not host:port, a host that cannot be reached, a port that says nothing within
        ``timeout`` or closes at once, or one that answers something else (HTTP, SSH ...), quoting it.
    """
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SitingError(f"the dask scheduler address {address!r} is not host:port (e.g. tcp://10.0.0.5:8786)")
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    except TimeoutError:
        raise SitingError(f"cannot reach the dask scheduler at {address!r}: no connection within {timeout:g} s "
                          "(`connect_timeout`)") from None
    except OSError as exc:
        raise SitingError(f"cannot reach the dask scheduler at {address!r}: {exc.strerror or exc}") from None
    with sock:
        head = b""
        try:
            while len(head) < 8:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
        except TimeoutError:
            raise SitingError(
                f"no dask scheduler at {address!r}: the port took the connection but said nothing within {timeout:g} s "
                "(`connect_timeout`); a Dask scheduler greets at once. Is it the scheduler's port (8786 by default; "
                "8787 is its dashboard)?") from None
        except OSError as exc:
            raise SitingError(f"cannot reach the dask scheduler at {address!r}: {exc.strerror or exc}") from None
    if len(head) < 8:
        raise SitingError(f"no dask scheduler at {address!r}: the port closed the connection without a greeting")
    (size,) = struct.unpack("Q", head)  # as dask.distributed frames its messages (native byte order)
    if not 0 < size <= MAX_GREETING:
        said = head.decode("latin-1")
        said = said if said.isprintable() else head.hex(" ")
        raise SitingError(f"no dask scheduler at {address!r}: something else answers there (it began {said!r}"
                          f"{', a web server' if said.startswith('HTTP') else ''}); give the scheduler's address, "
                          "e.g. tcp://host:8786")
