file(REMOVE_RECURSE
  "libbkcommon.a"
)
