#!/bin/bash
# test_cow_ext4.sh: copy-on-write backups on a loop-mounted ext4 (see cow_scenario.sh).
. "$(dirname "$0")/cow_scenario.sh"
cow_scenario ext4
