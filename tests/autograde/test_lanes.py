"""Lanes (learner uids) are held machine-wide: no two sandboxes at once share one."""

import subprocess
import sys
from contextlib import ExitStack

from autograde.lanes import claim_lane

HOLD = (
    "import sys\nfrom contextlib import ExitStack\nfrom autograde.lanes import claim_lane\n"
    "stack = ExitStack()\nprint(claim_lane(stack), flush=True)\nsys.stdin.read()\n"
)


def test_claims_are_distinct_and_freed_when_released():
    first, second = ExitStack(), ExitStack()
    a = claim_lane(first)
    b = claim_lane(second)
    assert a != b
    first.close()
    with ExitStack() as third:
        again = claim_lane(third)
        assert again != b and again <= a  # a's lane, or a lower one another test freed
    second.close()


def test_a_lane_held_by_another_process_is_skipped_until_it_dies():
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        held = int(holder.stdout.readline())
        with ExitStack() as stack:
            assert claim_lane(stack) != held
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        holder.stdin.close()
    with ExitStack() as stack:
        assert claim_lane(stack) <= held
