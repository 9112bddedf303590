"""``renkei serve --workers N``: the parent that keeps N server processes on one
listening socket, and replaces one that dies.

The parent forks the workers and then only watches them (``os.waitpid`` on
SIGCHLD) beside the embedded mail sink, all on one asyncio loop in its one
thread: a worker forked at any time is a copy of a process with one thread, so
no lock another thread held at the fork stays held for ever in the copy.

A worker that dies is replaced by a new one on the same socket, with one line
on stderr: which pid ended, how (its exit status or signal), and the new pid.
Replacing stops — the service ends with exit status 1 and one line, rather than
forking for ever — when :class:`Restarts` says so: :data:`FAILED_STARTS` workers
in a row died before serving (a worker says on a pipe that it serves once its
application and server are built), or :data:`RESTART_LIMIT` workers died within
:data:`RESTART_WINDOW` seconds. SIGTERM or SIGINT to the parent stops every
worker (SIGTERM, then waits for each) and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import NoReturn

#: Workers in a row that die before they serve (a database gone, a port taken)
#: after which the parent stops replacing them.
FAILED_STARTS = 5
#: Worker deaths, of any cause, within :data:`RESTART_WINDOW` seconds after which
#: the parent stops replacing them (a worker that starts and then dies at once).
RESTART_LIMIT = 5
RESTART_WINDOW = 10.0

#: Blocked in the parent from the fork until the child has its own handlers: a
#: signal in between would reach the parent's handlers in the child, whose wake-up
#: pipe is the parent's, and stop the parent.
_HELD = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


class Restarts:
    """When the parent stops replacing its dead workers: :meth:`died` records one
    death and says why to stop, or None to replace it. ``now`` is any monotonic
    time in seconds (the parent's ``time.monotonic``)."""

    def __init__(
        self,
        failed_starts: int = FAILED_STARTS,
        limit: int = RESTART_LIMIT,
        window: float = RESTART_WINDOW,
    ) -> None:
        self.failed_starts = failed_starts
        self.limit = limit
        self.window = window
        self._deaths: deque[float] = deque()
        self._failing = 0

    def serving(self) -> None:
        """A worker serves: the workers that died before serving are no longer in a row."""
        self._failing = 0

    def died(self, now: float, served: bool) -> str | None:
        """A worker died at ``now``, having served or not: why to stop, or None."""
        self._deaths.append(now)
        while self._deaths[0] <= now - self.window:
            self._deaths.popleft()
        if not served:
            self._failing += 1
            if self._failing >= self.failed_starts:
                return f"{self._failing} workers in a row died before serving"
        if len(self._deaths) >= self.limit:
            return f"{len(self._deaths)} workers died within {self.window:g} s"
        return None


def ended(status: int) -> str:
    """How a process ended, from its ``os.waitpid`` status."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class Workers:
    """The parent's children, on its asyncio :attr:`loop`.

    ``start`` runs in each new worker: it builds the worker's server and returns
    the function that serves until the process is stopped; an exception it raises
    is a failed start, said in one line by ``why`` (the error as the operator
    should read it)."""

    def __init__(
        self,
        start: Callable[[], Callable[[], object]],
        why: Callable[[Exception], str],
        restarts: Restarts | None = None,
    ) -> None:
        self.start = start
        self.why = why
        self.restarts = restarts or Restarts()
        self.loop = asyncio.new_event_loop()
        self.children: set[int] = set()
        self._serving: set[int] = set()
        self._status = 0
        self._ready, self._told = os.pipe()
        os.set_blocking(self._ready, False)
        self.loop.add_signal_handler(signal.SIGTERM, self.loop.stop)
        self.loop.add_signal_handler(signal.SIGINT, self.loop.stop)
        self.loop.add_signal_handler(signal.SIGCHLD, self._reap)
        self.loop.add_reader(self._ready, self._heard)

    def fork(self) -> int:
        """A new worker; its pid."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            pid = os.fork()
            if pid == 0:
                self._work()
            self.children.add(pid)
            return pid
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)

    def run(self) -> int:
        """Watch the workers until SIGTERM or SIGINT (0) or :class:`Restarts` says to
        stop (1); then stop every worker and wait for each."""
        try:
            self.loop.run_forever()
        finally:
            self.loop.remove_signal_handler(signal.SIGCHLD)  # none is replaced now
            for pid in self.children:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
            for pid in self.children:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    continue
            self.children.clear()
        return self._status

    def close(self) -> None:
        """Close the loop and the pipe, once :meth:`run` and whatever else ran on the
        loop (the mail sink) are done."""
        self.loop.close()
        os.close(self._ready)
        os.close(self._told)

    def _work(self) -> NoReturn:
        """The worker's life, in the child: never returns into the parent's code."""
        status = 1
        try:
            signal.set_wakeup_fd(-1)  # the parent's loop's, not ours
            for held in _HELD:
                signal.signal(held, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
            os.close(self._ready)
            try:
                serve = self.start()
            except Exception as error:
                print(
                    f"renkei: worker {os.getpid()} cannot start: {self.why(error)}", file=sys.stderr
                )
            else:
                os.write(self._told, f"{os.getpid()}\n".encode())
                serve()
                status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)

    def _heard(self) -> None:
        """The pids of the workers that said they serve."""
        while True:
            try:
                told = os.read(self._ready, 4096)
            except BlockingIOError:
                return
            for line in told.split():
                self._serving.add(int(line))
                self.restarts.serving()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid not in self.children:
                continue
            self.children.discard(pid)
            self._heard()  # what it said before it died is in the pipe by now
            served = pid in self._serving
            self._serving.discard(pid)
            how = f"renkei: worker {pid} {ended(status)}" + ("" if served else " before serving")
            stop = self.restarts.died(time.monotonic(), served)
            if stop is not None:
                print(f"{how}; {stop}: stopping the service", file=sys.stderr, flush=True)
                self._status = 1
                self.loop.stop()
                return
            print(f"{how}; worker {self.fork()} started in its place", file=sys.stderr, flush=True)
