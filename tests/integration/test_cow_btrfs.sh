#!/bin/bash
# test_cow_btrfs.sh: copy-on-write backups on a loop-mounted btrfs (see cow_scenario.sh).
. "$(dirname "$0")/cow_scenario.sh"
cow_scenario btrfs
