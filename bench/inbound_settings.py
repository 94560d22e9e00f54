"""Settings for bench/inbound.py only: the product's settings with a URL conf that adds the two
reference views. Never used by the product."""

from timelines.settings import *  # noqa: F403

ROOT_URLCONF = "inbound_urls"
