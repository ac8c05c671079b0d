"""``dispatch-center bench``: the speed targets of docs/architecture.md, measured on this machine."""

from bench.run import run_bench

__all__ = ["run_bench"]
