"""Settings for bench/inbound.py only: the product's settings with a URL conf that adds the two
reference views. Never used by the product."""

import os

from timelines.settings import *  # noqa: F403

ROOT_URLCONF = "inbound_urls"

if os.environ.get("BENCH_METRICS") == "off":
    # bench/inbound.py --metrics: the baseline server counts nothing at all, so that the other
    # one (counting into PROMETHEUS_MULTIPROC_DIR's files, as deployed) shows the whole cost.
    import timelines.metrics as counted

    class Uncounted:
        def labels(self, *values):
            return self

        def inc(self, amount=1):
            pass

        def observe(self, value):
            pass

    for name in dir(counted):
        if name.isupper():
            setattr(counted, name, Uncounted())
