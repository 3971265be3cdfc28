"""The service's metrics in Prometheus' text format (0.0.4), kept by hand: request counts and latency
histograms per dataset, outcome and status, decisions per dataset, model version, policy and decision, the
follower's refusals, and which version each dataset is served by. A small exposition is enough here, and it
needs no dependency beyond the lock."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels) + "}" if labels else ""


class Metrics:
    """Counters, one histogram and one info gauge, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[Labels, int] = defaultdict(int)
        self.latency: dict[Labels, list[int]] = {}
        self.latency_sum: dict[Labels, float] = defaultdict(float)
        self.decisions: dict[Labels, int] = defaultdict(int)
        self.refusals: dict[Labels, int] = defaultdict(int)
        self.served: dict[str, Labels] = {}

    def request(self, dataset: str, outcome: str, status: int, seconds: float) -> None:
        key = (("dataset", dataset), ("outcome", outcome), ("status", str(status)))
        with self._lock:
            self.requests[key] += 1
            counts = self.latency.setdefault(key, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum[key] += seconds

    def decided(self, dataset: str, version: str, policy: str, decision: str, n: int = 1) -> None:
        with self._lock:
            self.decisions[(("dataset", dataset), ("model_version", version), ("policy", policy),
                            ("decision", decision))] += n

    def refused(self, dataset: str) -> None:
        with self._lock:
            self.refusals[(("dataset", dataset),)] += 1

    def serving(self, dataset: str, version: str, policy: str) -> None:
        with self._lock:
            self.served[dataset] = (("dataset", dataset), ("model_version", version), ("policy", policy))

    def text(self) -> str:
        """The exposition, every family with its HELP and TYPE."""
        out: list[str] = []
        with self._lock:
            out += ["# HELP riskops_decision_requests_total Decision requests answered, by dataset, outcome and "
                    "HTTP status.", "# TYPE riskops_decision_requests_total counter"]
            out += [f"riskops_decision_requests_total{_labels(k)} {v}" for k, v in sorted(self.requests.items())]
            out += ["# HELP riskops_decision_request_seconds Time from a request's arrival to its answer.",
                    "# TYPE riskops_decision_request_seconds histogram"]
            for key, counts in sorted(self.latency.items()):
                total = 0
                for bound, count in zip([*BUCKETS, float("inf")], counts, strict=True):
                    total += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    out.append(f"riskops_decision_request_seconds_bucket{_labels((*key, ('le', le)))} {total}")
                out.append(f"riskops_decision_request_seconds_sum{_labels(key)} {self.latency_sum[key]:.6f}")
                out.append(f"riskops_decision_request_seconds_count{_labels(key)} {total}")
            out += ["# HELP riskops_decisions_total Applications decided, by dataset, model version, policy and "
                    "decision.", "# TYPE riskops_decisions_total counter"]
            out += [f"riskops_decisions_total{_labels(k)} {v}" for k, v in sorted(self.decisions.items())]
            out += ["# HELP riskops_champion_refusals_total Versions the follower refused to load (the previous one "
                    "kept serving).", "# TYPE riskops_champion_refusals_total counter"]
            out += [f"riskops_champion_refusals_total{_labels(k)} {v}" for k, v in sorted(self.refusals.items())]
            out += ["# HELP riskops_champion_served What decides each dataset in this process now (value 1).",
                    "# TYPE riskops_champion_served gauge"]
            out += [f"riskops_champion_served{_labels(v)} 1" for _, v in sorted(self.served.items())]
        return "\n".join(out) + "\n"
