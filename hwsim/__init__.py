"""hwsim: trace real PyTorch Transformer workloads and estimate them on hardware described in YAML."""

__version__ = "0.1.0"
