#!/bin/bash
# test_cow_xfs.sh: copy-on-write backups on a loop-mounted xfs (see cow_scenario.sh).
. "$(dirname "$0")/cow_scenario.sh"
cow_scenario xfs
