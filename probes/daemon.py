"""The running daemon: pollers for the current config, reloads, and shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from probes.client import ResponseValidator
from probes.config import Config, ConfigError
from probes.exposition import DaemonStatus, ProbeCollector
from probes.logs import log
from probes.runner import TargetPoller, start_polling

logger = logging.getLogger("probes.daemon")

# Seconds to wait for a poll thread to finish its cycle at shutdown or reload.
JOIN_TIMEOUT_SECONDS = 10.0


class Daemon:
    """Poll the targets of one config at a time; swap them on reload."""

    def __init__(
        self,
        config: Config,
        validator: ResponseValidator,
        graph_statuses: tuple[str, ...],
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        self.validator = validator
        self.graph_statuses = graph_statuses
        self.reload_config = reload_config
        self.status = DaemonStatus()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.reload_requested = threading.Event()
        self._generation_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.config = config
        self.pollers = self._build_pollers(config)
        self.collector = ProbeCollector(self.pollers, config.label_names(), self.status)
        self.status.config_loaded(True)

    def _build_pollers(self, config: Config) -> list[TargetPoller]:
        self._generation_stop = threading.Event()
        return [
            TargetPoller(
                target, self.validator, self.graph_statuses, stop=self._generation_stop
            )
            for target in config.targets
        ]

    def start(self) -> None:
        self._threads = start_polling(self.pollers, self.config.interval_seconds)

    def healthy(self) -> bool:
        """Return whether the daemon runs and every poll thread is alive.

        A poll thread that died of an exception polls no more, so /healthz
        reports it rather than serving stale values as healthy.
        """
        if self.stopping.is_set():
            return False
        if self._generation_stop.is_set():
            # A reload is stopping the old threads and starting new ones.
            return True
        return all(thread.is_alive() for thread in self._threads)

    def request_stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def request_reload(self) -> None:
        self.reload_requested.set()
        self.wake.set()

    def run(self) -> None:
        """Serve reload requests until `request_stop`; then stop the pollers."""
        self.start()
        while not self.stopping.is_set():
            self.wake.wait()
            self.wake.clear()
            if self.reload_requested.is_set() and not self.stopping.is_set():
                self.reload_requested.clear()
                self.reload()
        self._stop_pollers()

    def reload(self) -> bool:
        """Load the config again; keep the running one when the new one is invalid."""
        if self.reload_config is None:
            log(logger, logging.INFO, "reload ignored: no --config.file to reload")
            return False
        try:
            config = self.reload_config()
        except ConfigError as exc:
            self.status.config_loaded(False)
            log(logger, logging.ERROR, "config reload failed", err=str(exc))
            return False

        self._stop_pollers()
        self.config = config
        self.pollers = self._build_pollers(config)
        self.collector.replace(self.pollers, config.label_names())
        self.status.config_loaded(True)
        self.start()
        log(logger, logging.INFO, "config reloaded", targets=len(self.pollers))
        return True

    def _stop_pollers(self) -> None:
        self._generation_stop.set()
        for thread in self._threads:
            thread.join(timeout=JOIN_TIMEOUT_SECONDS)
        for poller in self.pollers:
            poller.close()
