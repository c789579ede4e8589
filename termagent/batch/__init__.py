"""`termagent batch`: many headless tasks, each in its own copy of its workspace, on this
machine's workers or on a Ray cluster, with one append-only result line per task.

Each task runs as its own `termagent --task - --output json` process (see run_one), so a
crash, a hang or a leaked environment variable in one task cannot reach the others or the
driver; the schedulers are a thread pool here and Ray there, never one of our own.
"""
