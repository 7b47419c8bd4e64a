"""What keeps the server's fork server and the processes it forks from outliving it.

The fork server (multiprocessing's ``forkserver``) stops once every process holding its
"alive" pipe has closed it; each process it forks holds that pipe too, so one child that
never finished starting (its server killed while sending it its work) kept both running
for ever, with no parent. This module, loaded first by the fork server (see
``FORKSERVER_PRELOAD``; it acts on import, so nothing else imports it), ties them to the server:

- the fork server exits as soon as the process that started it is gone (it checks its
  parent a few times a second);
- each process it forks is killed by the kernel when the fork server exits (Linux's
  ``PR_SET_PDEATHSIG``), and exits at once if the fork server is already gone.
"""

from __future__ import annotations

import os
import threading
import time

from quotebot.lifetime import die_with_parent

#: Seconds between two looks at the fork server's parent.
PARENT_CHECK_SECONDS = 0.2


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)  # the server is gone: nothing will ask for another process


def _forked() -> None:
    die_with_parent()
    if os.getppid() != _SERVER:  # the fork server exited before the line above
        os._exit(1)


_SERVER = os.getpid()
threading.Thread(target=_watch, args=(os.getppid(),), name="quotebot-parent-watch",
                 daemon=True).start()
os.register_at_fork(after_in_child=_forked)
