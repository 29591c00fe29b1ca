# Empty dependencies file for bkcommon.
# This may be replaced when dependencies are built.
