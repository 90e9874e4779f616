"""Typed jobs: one dataclass per unit of work (train, evaluate, attack) with one `validate()` and one
`run()`. The command line derives its flags from their fields (`rsebench.jobs.options`), the demo and
the study build lists of them, and Python callers use them directly:

    from rsebench.jobs import AttackJob
    AttackJob(recipe="pgd", model="ckpt/rse", n=100, eps=[0.002]).run()
"""

from rsebench.jobs.attack import AttackJob
from rsebench.jobs.evaluate import EvalJob
from rsebench.jobs.train import TrainJob

__all__ = ["AttackJob", "EvalJob", "TrainJob"]
