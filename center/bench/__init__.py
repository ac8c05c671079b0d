"""``dispatch-center bench``: the speed figures of DESIGN.md section 6, measured on this machine."""

from center.bench.run import run_bench

__all__ = ["run_bench"]
