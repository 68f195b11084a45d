"""Trace a workload into an ir.Graph (dispatch-mode tracer on the meta device) and its cost rules."""

from hwsim.trace.step import run_workload
from hwsim.trace.summary import summarize
from hwsim.trace.tracer import trace_workload

__all__ = ["run_workload", "summarize", "trace_workload"]
